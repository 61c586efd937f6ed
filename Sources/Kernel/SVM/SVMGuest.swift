import CArch
import HypervisorCore
import Memory
import SVM

/// One VM under SVM: its nested page-table root, I/O and MSR permission maps, and a VMCB per
/// vCPU, set up to start every vCPU in real mode at the profile's entry point. Each vCPU's
/// ASID comes from the processor it runs on (`asidRecords`, ASIDAllocator).
final class SVMGuest {
  let vm: VirtualMachine
  let nestedRoot: UInt64
  let ioPermissionMap: UInt64
  let msrPermissionMap: UInt64
  var vmcbs: [UInt64] = []
  /// Per vCPU: the block the world switch serves hot exits from (ExitFastPath).
  var fastPaths: [UInt64] = []
  /// Per vCPU: which processor's ASID its VMCB holds, from which generation.
  var asidRecords: [ASIDAllocator.Record] = []

  /// MSRs the VMCB holds and VMLOAD/VMSAVE switch: the guest may use them without exits.
  static let passthroughMSRs: [UInt32] = [0xC000_0081, 0xC000_0084, 0x174, 0x175, 0x176]
  /// MSRs the VMCB holds whose writes must be canonical addresses (APM Vol 2 §4.5.3, WRMSR
  /// #GP): reads pass through, writes exit so that MSRHandler checks them. A processor
  /// checks these itself, but QEMU's TCG emulation of SVM does not (kvm-unit-tests' msr
  /// and la57 tests); Linux writes FS/GS base with WRFSBASE/WRGSBASE where FSGSBASE is
  /// offered, so the exits are rare.
  static let readPassthroughMSRs: [UInt32] = [
    0xC000_0082, 0xC000_0083, 0xC000_0100, 0xC000_0101, 0xC000_0102,
  ]

  init?(vm: VirtualMachine, nestedRoot: UInt64) {
    self.vm = vm
    self.nestedRoot = nestedRoot
    vm.controlRegisterRules = ControlRegisterRules.offered(byHost: GuestVisibleCPUID.cpuid)
    // IOPM: 12 KiB, one bit per port, all set: every port exits (APM §15.10.1).
    // MSRPM: 8 KiB, two bits per MSR (read, write) (APM §15.11).
    guard let io = PhysicalFrames.allocateZeroed(frames: 3),
      let msr = PhysicalFrames.allocateZeroed(frames: 2)
    else {
      return nil
    }
    ioPermissionMap = io
    msrPermissionMap = msr
    IdentityMappedMemory().pointer(to: io).initializeMemory(
      as: UInt8.self, repeating: 0xFF, count: 3 * 4096)
    let msrMap = IdentityMappedMemory().pointer(to: msr)
    msrMap.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 2 * 4096)
    for index in Self.passthroughMSRs { Self.allow(index, in: msrMap) }
    for index in Self.readPassthroughMSRs { Self.allow(index, in: msrMap, writes: false) }
    for vcpu in vm.vcpus {
      guard let vmcb = PhysicalFrames.allocateZeroed() else { return nil }
      vmcbs.append(vmcb)
      guard let fast = ExitFastPath.allocate() else { return nil }
      fastPaths.append(fast)
      asidRecords.append(ASIDAllocator.Record())
      initialize(
        VMCB(base: IdentityMappedMemory().pointer(to: vmcb)), vcpu: vcpu, start: vm.initialState)
    }
  }

  /// Clears the read and (unless `writes` is false) write intercept bits of one MSR.
  static func allow(_ index: UInt32, in map: UnsafeMutableRawPointer, writes: Bool = true) {
    let base: Int
    switch index {
    case 0..<0x2000: base = 0
    case 0xC000_0000..<0xC000_2000: base = 0x800
    case 0xC001_0000..<0xC001_2000: base = 0x1000
    default: return
    }
    let bit = Int(index & 0x1FFF) * 2
    let byte = map.advanced(by: base + bit / 8)
    let cleared: UInt8 = writes ? 3 : 1  // read bit, then write bit (APM §15.11)
    byte.storeBytes(
      of: byte.load(as: UInt8.self) & ~(cleared << UInt8(bit % 8)), as: UInt8.self)
  }

  /// Real-mode reset-like state (APM §15.5, emulators.md): CS from the profile, flat 64 KiB
  /// data segments, CR0.ET, EFER.SVME (VMRUN requires it), the PAT's power-on value.
  private func initialize(_ vmcb: VMCB, vcpu: VirtualCPU, start: InitialCPUState) {
    vmcb[VMCBOffset.interceptCR, as: UInt32.self] = SVMIntercept.peregrineCR
    vmcb[VMCBOffset.interceptMisc1, as: UInt32.self] = SVMIntercept.peregrineMisc1
    vmcb[VMCBOffset.interceptMisc2, as: UInt32.self] = SVMIntercept.peregrineMisc2
    // Exceptions: #MC belongs to the host (bit 18).
    vmcb[VMCBOffset.interceptExceptions, as: UInt32.self] = 1 << 18
    vmcb.set(VMCBOffset.iopmBasePA, ioPermissionMap)
    vmcb.set(VMCBOffset.msrpmBasePA, msrPermissionMap)
    // ASID and TLB_CONTROL: set before each VMRUN from the processor's ASIDAllocator.
    // V_INTR_MASKING (bit 24): the guest's IF masks only virtual interrupts; physical
    // ones stay the host's (APM §15.21.1).
    vmcb.set(VMCBOffset.virtualInterrupt, 1 << 24)
    vmcb.set(VMCBOffset.nestedPagingEnable, 1)
    vmcb.set(VMCBOffset.nestedCR3, nestedRoot)

    let code = start.code
    vmcb.setSegment(
      VMCBOffset.cs, selector: code.selector, attributes: code.attributes, limit: code.limit,
      base: code.base)
    let data = start.data
    for segment in [VMCBOffset.ds, VMCBOffset.es, VMCBOffset.ss, VMCBOffset.fs, VMCBOffset.gs] {
      vmcb.setSegment(
        segment, selector: data.selector, attributes: data.attributes, limit: data.limit,
        base: data.base)
    }
    vmcb.setSegment(
      VMCBOffset.gdtr, selector: 0, attributes: 0, limit: start.gdtLimit, base: start.gdtBase)
    vmcb.setSegment(VMCBOffset.idtr, selector: 0, attributes: 0, limit: 0x3FF, base: 0)
    vmcb.setSegment(VMCBOffset.ldtr, selector: 0, attributes: 0x82, limit: 0xFFFF, base: 0)
    vmcb.setSegment(VMCBOffset.tr, selector: 0, attributes: 0x8B, limit: 0xFFFF, base: 0)
    vmcb.set(VMCBOffset.cr0, start.cr0)
    vmcb.set(VMCBOffset.cr3, start.cr3)
    vmcb.set(VMCBOffset.cr4, start.cr4)
    // EFER.LME with paging off waits in the vCPU (SVMGuestState), SVME is forced.
    let efer = SVMGuestState<GuestVisibleCPUID>.split(efer: start.efer, cr0: start.cr0)
    vmcb.set(VMCBOffset.efer, efer.vmcb)
    vcpu.deferredEFER = efer.deferred
    vmcb.set(VMCBOffset.dr6, 0xFFFF_0FF0)
    vmcb.set(VMCBOffset.dr7, 0x400)
    vmcb.set(VMCBOffset.guestPAT, 0x0007_0406_0007_0406)
    vcpu.registers.rip = start.rip
    vcpu.registers.rsi = start.rsi
    vcpu.registers.rax = start.rax
    vcpu.registers.rbx = start.rbx
    vcpu.registers.rflags = start.rflags
  }

  /// A start-up IPI ended the vCPU's wait (VCPURequests): the VMCB takes the real-mode state
  /// at the vector, with nothing left to inject and every clean bit cleared (APM §15.15.3).
  /// Out of line: the run loop stays small enough for the exit decoder to inline.
  @inline(never)
  func loadStartupState(_ vcpu: VirtualCPU) {
    guard let start = vcpu.startupState else { return }
    vcpu.startupState = nil
    let vmcb = VMCB(base: IdentityMappedMemory().pointer(to: vmcbs[vcpu.index]))
    initialize(vmcb, vcpu: vcpu, start: start)
    vmcb.set(VMCBOffset.eventInjection, 0)
    vmcb.set(VMCBOffset.interruptShadow, 0)
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] = 0
    vcpu.registers.rsp = 0
  }

  /// ASIDs are not released: the processor's next generation reclaims them.
  func release() {
    for vmcb in vmcbs { PhysicalFrames.free(vmcb) }
    for fast in fastPaths { ExitFastPath.free(fast) }
    PhysicalFrames.free(ioPermissionMap, frames: 3)
    PhysicalFrames.free(msrPermissionMap, frames: 2)
  }
}
