import HypervisorCore

/// GuestStateAccess over a VMCB: what handlers may read and change of the guest's state
/// when the backend is SVM.
public struct SVMGuestState<Host: HostProcessor>: GuestStateAccess {
  public let vmcb: VMCB

  public init(vmcb: VMCB) { self.vmcb = vmcb }

  static var svme: UInt64 { 1 << 12 }

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
    if index == 0xC000_0080 { return vmcb.u64(VMCBOffset.efer) & ~Self.svme }
    return Self.stateOffset(of: index).map { vmcb.u64($0) }
  }

  public mutating func writeStateMSR(_ index: UInt32, _ value: UInt64) -> Bool {
    if index == 0xC000_0080 {
      // LMA is the processor's to set; keep the guest's current LMA and force SVME.
      let lma = vmcb.u64(VMCBOffset.efer) & (1 << 10)
      vmcb.set(VMCBOffset.efer, value & ~(1 << 10) | lma | Self.svme)
      // EFER is cached state: tell the processor it changed (VMCB clean bit 5, CRx/EFER).
      vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~(1 << 5)
      return true
    }
    guard let offset = Self.stateOffset(of: index) else { return false }
    vmcb.set(offset, value)
    if index == 0x277 { vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~(1 << 4) }  // NP: gPAT
    return true
  }

  /// SVM intercepts no control-register access (the VMCB holds them), so these serve only
  /// the generic handler's contract.
  public func readControlRegister(_ number: UInt8) -> UInt64 {
    switch number {
    case 0: return vmcb.u64(VMCBOffset.cr0)
    case 3: return vmcb.u64(VMCBOffset.cr3)
    case 4: return vmcb.u64(VMCBOffset.cr4)
    default: return 0
    }
  }

  public mutating func writeControlRegister(_ number: UInt8, _ value: UInt64) -> Bool {
    switch number {
    case 0: vmcb.set(VMCBOffset.cr0, value)
    case 3: vmcb.set(VMCBOffset.cr3, value)
    case 4: vmcb.set(VMCBOffset.cr4, value)
    default: return false
    }
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~(1 << 5)
    return true
  }

  public func hostCPUID(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    Host.cpuid(leaf: leaf, subleaf: subleaf)
  }

  public func guestTimeStampCounter() -> UInt64 {
    Host.timeStampCounter() &+ vmcb.u64(VMCBOffset.tscOffset)
  }
}
