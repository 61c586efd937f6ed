import HypervisorCore

/// GuestStateAccess over a VMCB: what handlers may read and change of the guest's state
/// when the backend is SVM.
///
/// EFER.LME with paging off stays out of the VMCB: the vCPU holds it (`deferredEFER`) until
/// the guest turns paging on, and the VMCB gets LME and LMA together then. QEMU 7.2 TCG's
/// #VMEXIT cannot restore the host's CR0 from a guest with LME = 1, PG = 0, PAE = 0
/// (docs/hardening.md); the guest sees no difference (RDMSR, the CR0 rules, the mode).
public struct SVMGuestState<Host: HostProcessor>: GuestStateAccess {
  public let vmcb: VMCB
  /// The vCPU whose VMCB this is: it holds the guest's deferred EFER.LME. Unretained: the
  /// state lives for one exit, within the run loop's use of its vCPU, and a retain and
  /// release would cost every exit (docs/exit-path.md).
  public unowned(unsafe) let vcpu: VirtualCPU

  public init(vmcb: VMCB, vcpu: VirtualCPU) {
    self.vmcb = vmcb
    self.vcpu = vcpu
  }

  static var svme: UInt64 { 1 << 12 }
  static var lme: UInt64 { 1 << 8 }
  static var lma: UInt64 { 1 << 10 }
  static var pg: UInt64 { 1 << 31 }

  /// The guest's EFER as the VMCB and the vCPU's deferred part split it: with CR0.PG = 0,
  /// LME goes to `deferred` and the VMCB holds the rest with SVME, which VMRUN requires
  /// (APM Vol 2 §15.5.1); with paging on, all of it is the VMCB's. LMA is not touched.
  public static func split(efer: UInt64, cr0: UInt64) -> (vmcb: UInt64, deferred: UInt64) {
    if cr0 & pg != 0 { return (efer | svme, 0) }
    return (efer & ~lme | svme, efer & lme)
  }

  /// EFER as the guest has it: the VMCB's with the deferred LME, SVME included.
  @inline(__always)
  var guestEFER: UInt64 { vmcb.u64(VMCBOffset.efer) | vcpu.deferredEFER }

  /// `efer` is the VMCB's: LMA (what the mode depends on) is always there; the LME the vCPU
  /// holds is in `readStateMSR`, which the CR0 rules read.
  public func mode() -> GuestMode {
    let cr0 = vmcb.u64(VMCBOffset.cr0)
    let efer = vmcb.u64(VMCBOffset.efer)
    // Packed segment attributes (APM Table B-2): bit 9 L, bit 10 D/B.
    let csAttributes = vmcb.segmentAttributes(VMCBOffset.cs)
    let width: GuestMode.Width
    if cr0 & 1 == 0 {
      width = .real
    } else if efer & (1 << 10) != 0 && csAttributes & (1 << 9) != 0 {
      width = .long64
    } else {
      width = csAttributes & (1 << 10) != 0 ? .protected32 : .protected16
    }
    var mode = GuestMode(
      width: width, codeSegmentBase: vmcb.segmentBase(VMCBOffset.cs),
      dataSegmentBase: vmcb.segmentBase(VMCBOffset.ds),
      extraSegmentBase: vmcb.segmentBase(VMCBOffset.es),
      cr0: cr0, cr3: vmcb.u64(VMCBOffset.cr3), cr4: vmcb.u64(VMCBOffset.cr4), efer: efer)
    mode.stackSegmentBase = vmcb.segmentBase(VMCBOffset.ss)
    mode.fsBase = vmcb.segmentBase(VMCBOffset.fs)
    mode.gsBase = vmcb.segmentBase(VMCBOffset.gs)
    return mode
  }

  @inline(__always)
  public func instructionFetchKey(rip: UInt64) -> InstructionFetchKey {
    // In 16-bit code RIP holds IP; in 64-bit code the CS base is 0.
    let linear = vmcb.segmentBase(VMCBOffset.cs) &+ rip
    let paging = vmcb.u64(VMCBOffset.cr0) & (1 << 31) != 0
    return InstructionFetchKey(
      linear: linear, addressSpace: paging ? vmcb.u64(VMCBOffset.cr3) : InstructionFetchKey.unpaged)
  }

  public var privilegeLevel: UInt8 { vmcb[VMCBOffset.cpl, as: UInt8.self] }

  static func stateOffset(of index: UInt32) -> Int? {
    switch index {
    case 0x277: return VMCBOffset.guestPAT
    case 0xC000_0081: return VMCBOffset.star
    case 0xC000_0082: return VMCBOffset.lstar
    case 0xC000_0083: return VMCBOffset.cstar
    case 0xC000_0084: return VMCBOffset.sfmask
    case 0xC000_0100: return VMCBOffset.fs + VMCBSegmentOffset.base
    case 0xC000_0101: return VMCBOffset.gs + VMCBSegmentOffset.base
    case 0xC000_0102: return VMCBOffset.kernelGSBase
    case 0x174: return VMCBOffset.sysenterCS
    case 0x175: return VMCBOffset.sysenterESP
    case 0x176: return VMCBOffset.sysenterEIP
    default: return nil
    }
  }

  public func readStateMSR(_ index: UInt32) -> UInt64? {
    // The guest's EFER must keep SVME for VMRUN (APM §15.5.1); the guest never sees it.
    if index == 0xC000_0080 { return guestEFER & ~Self.svme }
    return Self.stateOffset(of: index).map { vmcb.u64($0) }
  }

  public mutating func writeStateMSR(_ index: UInt32, _ value: UInt64) -> Bool {
    if index == 0xC000_0080 {
      let current = guestEFER
      // LME cannot change while paging is on: #GP (APM Vol 2 §14.6.1, SDM 3A §10.8.5). Left
      // through, LME = 1 with 32-bit paging (PAE = 0) fails VMRUN's consistency checks
      // (APM §15.5.1).
      let cr0 = vmcb.u64(VMCBOffset.cr0)
      if !EFERRules.permits(value, current: current, cr0: cr0) { return false }
      // LMA is the processor's to set; keep the guest's current LMA. With paging off LME
      // waits in the vCPU (LMA is clear then).
      let parts = Self.split(efer: value & ~Self.lma | current & Self.lma, cr0: cr0)
      vmcb.set(VMCBOffset.efer, parts.vmcb)
      vcpu.deferredEFER = parts.deferred
      // EFER is cached state: tell the processor it changed (VMCB clean bit 5, CRx/EFER).
      vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~(1 << 5)
      return true
    }
    guard let offset = Self.stateOffset(of: index) else { return false }
    vmcb.set(offset, value)
    if index == 0x277 { vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~(1 << 4) }  // NP: gPAT
    return true
  }

  /// The VMCB holds the guest's control registers; MOV to CR4 and CR0 (selective) are
  /// intercepted (SVMIntercept), and the handler has checked the value before this.
  public func readControlRegister(_ number: UInt8) -> UInt64 {
    switch number {
    case 0: return vmcb.u64(VMCBOffset.cr0)
    case 3: return vmcb.u64(VMCBOffset.cr3)
    case 4: return vmcb.u64(VMCBOffset.cr4)
    default: return 0
    }
  }

  /// Turning paging on with EFER.LME set activates long mode, and turning it off
  /// deactivates it: EFER.LMA follows, as the processor's own MOV to CR0 would set it
  /// (APM Vol 2 §14.6.1). LME moves with it: into the VMCB when paging turns on (the
  /// handler has refused PG without PAE, #GP), back to the vCPU when it turns off.
  public mutating func writeControlRegister(_ number: UInt8, _ value: UInt64) -> Bool {
    switch number {
    case 0:
      if (value ^ vmcb.u64(VMCBOffset.cr0)) & Self.pg != 0 {
        let efer = guestEFER
        let active = value & Self.pg != 0 && efer & Self.lme != 0
        let parts = Self.split(efer: active ? efer | Self.lma : efer & ~Self.lma, cr0: value)
        vmcb.set(VMCBOffset.efer, parts.vmcb)
        vcpu.deferredEFER = parts.deferred
      }
      vmcb.set(VMCBOffset.cr0, value)
    case 3: vmcb.set(VMCBOffset.cr3, value)
    case 4: vmcb.set(VMCBOffset.cr4, value)
    default: return false
    }
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~(1 << 5)
    return true
  }

  /// With nested paging the VMCB holds no PDPTEs: the processor reads the guest's PAE
  /// page-directory pointers from guest memory as part of its own walks (APM Vol 2 §15.25,
  /// "Legacy PAE Mode"; QEMU walks them from memory too), so there is nothing to load.
  public var holdsPAEPointers: Bool { false }

  public mutating func loadPAEPointers(_ pointers: PAEDirectoryPointers) {}

  public func hostCPUID(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    Host.cpuid(leaf: leaf, subleaf: subleaf)
  }

  public func guestTimeStampCounter() -> UInt64 {
    Host.timeStampCounter() &+ vmcb.u64(VMCBOffset.tscOffset)
  }

  /// TSC_OFFSET (VMCB offset 050h, APM Vol 2 Table B-1): added to the host TSC for RDTSC,
  /// RDTSCP and RDMSR of the TSC in the guest.
  public var timeStampCounterOffset: UInt64 { vmcb.u64(VMCBOffset.tscOffset) }

  public mutating func setGuestTimeStampCounter(_ value: UInt64) {
    vmcb.set(VMCBOffset.tscOffset, value &- Host.timeStampCounter())
    // The TSC offset is cached with the intercept vectors: VMCB clean bit 0 (I).
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~1
  }

  public mutating func setFaultAddress(_ linear: UInt64) {
    // VMRUN loads the guest's CR2 from the save area (APM Vol 2 §15.5.1, offset 0x640);
    // VMCB clean bit 9 covers it (Table 15-9).
    vmcb.set(VMCBOffset.cr2, linear)
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~(1 << 9)
  }
}
