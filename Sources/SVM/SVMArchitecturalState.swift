import HypervisorCore

/// Captures a vCPU's architectural state from its VMCB (APM Vol 2 Appendix B, Table B-2)
/// and the vCPU object, and applies one to them. At a safe point only (see
/// VCPUArchitecturalState): RAX, RSP, RIP and RFLAGS are taken from the register file, which
/// the run loop copies into the VMCB before every VMRUN.
public enum SVMArchitecturalState {
  static let svme: UInt64 = 1 << 12
  /// VMCB offset 068h bit 0, INTERRUPT_SHADOW (APM Vol 2 §15.21.5).
  static let interruptShadowBit: UInt64 = 1
  /// RFLAGS.IF (bit 9) and RFLAGS.VM (bit 17).
  static let interruptFlag: UInt64 = 1 << 9
  static let virtual8086: UInt64 = 1 << 17
  /// RFLAGS.TF (bit 8), which the run loop sets to single-step an IRET.
  static let trapFlag: UInt64 = 1 << 8
  /// Exception intercept bit 1 (#DB), on only during that step (APM Vol 2 §15.12).
  static let debugExceptionIntercept: UInt32 = 1 << 1

  public static func capture(vmcb: VMCB, vcpu: VirtualCPU) -> VCPUArchitecturalState {
    var state = VCPUArchitecturalState()
    vcpu.captureHeldState(into: &state)
    state.cr0 = vmcb.u64(VMCBOffset.cr0)
    state.cr2 = vmcb.u64(VMCBOffset.cr2)
    state.cr3 = vmcb.u64(VMCBOffset.cr3)
    state.cr4 = vmcb.u64(VMCBOffset.cr4)
    // V_TPR, bits 3:0 of the virtual interrupt field (APM Vol 2 §15.21.3, Table B-1).
    state.cr8 = vmcb.u64(VMCBOffset.virtualInterrupt) & 0xF
    // The guest's EFER: the VMCB's with the LME the vCPU defers, without SVME (SVMGuestState).
    state.efer = (vmcb.u64(VMCBOffset.efer) | vcpu.deferredEFER) & ~svme
    state.es = segment(vmcb, VMCBOffset.es)
    state.cs = segment(vmcb, VMCBOffset.cs)
    state.ss = segment(vmcb, VMCBOffset.ss)
    state.ds = segment(vmcb, VMCBOffset.ds)
    state.fs = segment(vmcb, VMCBOffset.fs)
    state.gs = segment(vmcb, VMCBOffset.gs)
    state.ldtr = segment(vmcb, VMCBOffset.ldtr)
    state.tr = segment(vmcb, VMCBOffset.tr)
    state.gdtr = table(vmcb, VMCBOffset.gdtr)
    state.idtr = table(vmcb, VMCBOffset.idtr)
    state.dr6 = vmcb.u64(VMCBOffset.dr6)
    state.dr7 = vmcb.u64(VMCBOffset.dr7)
    state.sysenterCS = vmcb.u64(VMCBOffset.sysenterCS)
    state.sysenterESP = vmcb.u64(VMCBOffset.sysenterESP)
    state.sysenterEIP = vmcb.u64(VMCBOffset.sysenterEIP)
    state.star = vmcb.u64(VMCBOffset.star)
    state.lstar = vmcb.u64(VMCBOffset.lstar)
    state.cstar = vmcb.u64(VMCBOffset.cstar)
    state.sfmask = vmcb.u64(VMCBOffset.sfmask)
    state.kernelGSBase = vmcb.u64(VMCBOffset.kernelGSBase)
    state.pat = vmcb.u64(VMCBOffset.guestPAT)
    state.tscOffset = vmcb.u64(VMCBOffset.tscOffset)
    // An event the last exit interrupted waits in EVENTINJ (the run loop's reinjection,
    // APM Vol 2 §15.7.2); the vCPU's own pending event is injected after it.
    if state.pendingEvent == nil {
      state.pendingEvent = SVMEventInjection.decode(vmcb.u64(VMCBOffset.eventInjection))
    }
    state.nmiBlocked = vcpu.nmiBlocking.isBlocked
    // The hypervisor's single step over the IRET that ends an NMI handler (NMIBlocking,
    // SVMRunLoop) is settled here, not carried: RFLAGS.TF is the hypervisor's (the step
    // starts only when the guest's own TF is clear), so the record has it clear, and NMIs
    // stay blocked. After apply the IRET is intercepted again and the held NMI (the local
    // APIC's, or the pending event) is delivered at the first exit after it.
    if vcpu.nmiBlocking.isStepping { state.registers.rflags &= ~trapFlag }
    if vmcb.u64(VMCBOffset.interruptShadow) & interruptShadowBit != 0 {
      state.interruptShadow = state.registers.rflags & interruptFlag != 0 ? .sti : .movSS
    }
    return state
  }

  public static func apply(_ state: VCPUArchitecturalState, to vmcb: VMCB, vcpu: VirtualCPU) {
    vcpu.applyHeldState(state)
    let registers = state.registers
    vmcb.set(VMCBOffset.rax, registers.rax)
    vmcb.set(VMCBOffset.rsp, registers.rsp)
    vmcb.set(VMCBOffset.rip, registers.rip)
    vmcb.set(VMCBOffset.rflags, registers.rflags)
    vmcb.set(VMCBOffset.cr0, state.cr0)
    vmcb.set(VMCBOffset.cr2, state.cr2)
    vmcb.set(VMCBOffset.cr3, state.cr3)
    vmcb.set(VMCBOffset.cr4, state.cr4)
    let interrupt = vmcb.u64(VMCBOffset.virtualInterrupt)
    vmcb.set(VMCBOffset.virtualInterrupt, interrupt & ~0xFF | state.cr8 & 0xF)
    // LME waits in the vCPU while paging is off (SVMGuestState.split); SVME is VMRUN's.
    let efer = SVMGuestState<NoHost>.split(efer: state.efer & ~svme, cr0: state.cr0)
    vmcb.set(VMCBOffset.efer, efer.vmcb)
    vcpu.deferredEFER = efer.deferred
    setSegment(vmcb, VMCBOffset.es, state.es)
    setSegment(vmcb, VMCBOffset.cs, state.cs)
    setSegment(vmcb, VMCBOffset.ss, state.ss)
    setSegment(vmcb, VMCBOffset.ds, state.ds)
    setSegment(vmcb, VMCBOffset.fs, state.fs)
    setSegment(vmcb, VMCBOffset.gs, state.gs)
    setSegment(vmcb, VMCBOffset.ldtr, state.ldtr)
    setSegment(vmcb, VMCBOffset.tr, state.tr)
    setTable(vmcb, VMCBOffset.gdtr, state.gdtr)
    setTable(vmcb, VMCBOffset.idtr, state.idtr)
    // VMRUN takes CPL from the VMCB in protected mode and forces 0 in real mode and 3 in
    // virtual-8086 mode (APM Vol 2 §15.5.1); SS.DPL is the CPL (SDM 3A §5.5).
    let cpl: UInt8
    if state.cr0 & 1 == 0 {
      cpl = 0
    } else if registers.rflags & virtual8086 != 0 {
      cpl = 3
    } else {
      cpl = state.ss.attributes.privilegeLevel
    }
    vmcb[VMCBOffset.cpl, as: UInt8.self] = cpl
    vmcb.set(VMCBOffset.dr6, state.dr6)
    vmcb.set(VMCBOffset.dr7, state.dr7)
    vmcb.set(VMCBOffset.sysenterCS, state.sysenterCS)
    vmcb.set(VMCBOffset.sysenterESP, state.sysenterESP)
    vmcb.set(VMCBOffset.sysenterEIP, state.sysenterEIP)
    vmcb.set(VMCBOffset.star, state.star)
    vmcb.set(VMCBOffset.lstar, state.lstar)
    vmcb.set(VMCBOffset.cstar, state.cstar)
    vmcb.set(VMCBOffset.sfmask, state.sfmask)
    vmcb.set(VMCBOffset.kernelGSBase, state.kernelGSBase)
    vmcb.set(VMCBOffset.guestPAT, state.pat)
    vmcb.set(VMCBOffset.tscOffset, state.tscOffset)
    // The vCPU's pending event is injected at the next entry; nothing else waits.
    vmcb.set(VMCBOffset.eventInjection, 0)
    var blocking = NMIBlocking()
    if state.nmiBlocked { blocking.nmiInjected() }
    vcpu.nmiBlocking = blocking
    // No step over an IRET is under way (capture settles it): #DB is the guest's again.
    vmcb[VMCBOffset.interceptExceptions, as: UInt32.self] &= ~debugExceptionIntercept
    let shadow = vmcb.u64(VMCBOffset.interruptShadow) & ~interruptShadowBit
    vmcb.set(
      VMCBOffset.interruptShadow,
      state.interruptShadow == .none ? shadow : shadow | interruptShadowBit)
    // Everything may have changed: no VMCB state is cached (APM Vol 2 §15.15.3).
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] = 0
  }

  static func segment(_ vmcb: VMCB, _ offset: Int) -> SegmentState {
    SegmentState(
      selector: vmcb[offset + VMCBSegmentOffset.selector, as: UInt16.self],
      base: vmcb.segmentBase(offset),
      limit: vmcb[offset + VMCBSegmentOffset.limit, as: UInt32.self],
      attributes: SegmentAttributes(rawValue: vmcb.segmentAttributes(offset)))
  }

  static func setSegment(_ vmcb: VMCB, _ offset: Int, _ segment: SegmentState) {
    vmcb.setSegment(
      offset, selector: segment.selector, attributes: segment.attributes.rawValue,
      limit: segment.limit, base: segment.base)
  }

  /// GDTR and IDTR use the limit and base of their 16-byte slot (Table B-2).
  static func table(_ vmcb: VMCB, _ offset: Int) -> DescriptorTableState {
    DescriptorTableState(
      base: vmcb.segmentBase(offset),
      limit: UInt16(truncatingIfNeeded: vmcb[offset + VMCBSegmentOffset.limit, as: UInt32.self]))
  }

  static func setTable(_ vmcb: VMCB, _ offset: Int, _ table: DescriptorTableState) {
    vmcb[offset + VMCBSegmentOffset.limit, as: UInt32.self] = UInt32(table.limit)
    vmcb[offset + VMCBSegmentOffset.base, as: UInt64.self] = table.base
  }
}

/// `SVMGuestState.split` needs a host type; the split itself touches none.
enum NoHost: HostProcessor {
  static func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    CPUIDLeaf(eax: 0, ebx: 0, ecx: 0, edx: 0)
  }
  static func timeStampCounter() -> UInt64 { 0 }
}
