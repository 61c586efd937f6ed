import HypervisorCore

/// Guest state VMX keeps outside the VMCS, which the caller reads from and writes to where
/// the kernel keeps it: the SYSCALL MSRs and KernelGSbase (swapped on the processor at each
/// time slice, VMXGuest.syscallMSRs), DR6 (no VMCS field: it stays in the processor across
/// VM exits and entries, SDM 3C §28.3.3) and CR8 (no TPR shadow: the local APIC model's TPR).
public struct VMXUnheldState: Equatable {
  public var star: UInt64 = 0
  public var lstar: UInt64 = 0
  public var cstar: UInt64 = 0
  public var sfmask: UInt64 = 0
  public var kernelGSBase: UInt64 = 0
  public var dr6: UInt64 = 0xFFFF_0FF0
  public var cr8: UInt64 = 0

  public init() {}
}

/// Captures a vCPU's architectural state from its VMCS (SDM 3C §25.4, guest-state area) and
/// the vCPU object, and applies one to them. At a safe point only (see
/// VCPUArchitecturalState): RSP, RIP and RFLAGS come from the register file, which the run
/// loop copies into the VMCS before every entry; CR2 is the vCPU's `faultAddress`.
public enum VMXArchitecturalState {
  /// Access rights bits 7:0 and 15:12 (SDM 3C Table 25-2); bits 11:8 are reserved.
  static let unusable: UInt64 = 1 << 16
  /// Interruptibility state (SDM 3C Table 25-3): blocking by STI, by MOV SS, by NMI.
  static let blockingBySTI: UInt64 = 1 << 0
  static let blockingByMovSS: UInt64 = 1 << 1
  static let blockingByNMI: UInt64 = 1 << 3
  static let lma: UInt64 = 1 << 10

  public static func capture<VMCS: VMCSAccess>(
    vmcs: VMCS, vcpu: VirtualCPU, unheld: VMXUnheldState
  ) -> VCPUArchitecturalState {
    var state = VCPUArchitecturalState()
    vcpu.captureHeldState(into: &state)
    // The guest reads host-owned bits from the read shadows (SDM 3C §25.6.6).
    let cr0Mask = vmcs.read(.cr0GuestHostMask)
    state.cr0 = vmcs.read(.guestCR0) & ~cr0Mask | vmcs.read(.cr0ReadShadow) & cr0Mask
    let cr4Mask = vmcs.read(.cr4GuestHostMask)
    state.cr4 = vmcs.read(.guestCR4) & ~cr4Mask | vmcs.read(.cr4ReadShadow) & cr4Mask
    state.cr2 = vcpu.faultAddress
    state.cr3 = vmcs.read(.guestCR3)
    state.cr8 = unheld.cr8
    state.efer = vmcs.read(.guestEFER)
    state.es = segment(vmcs, .guestESSelector, .guestESBase, .guestESLimit, .guestESAccessRights)
    state.cs = segment(vmcs, .guestCSSelector, .guestCSBase, .guestCSLimit, .guestCSAccessRights)
    state.ss = segment(vmcs, .guestSSSelector, .guestSSBase, .guestSSLimit, .guestSSAccessRights)
    state.ds = segment(vmcs, .guestDSSelector, .guestDSBase, .guestDSLimit, .guestDSAccessRights)
    state.fs = segment(vmcs, .guestFSSelector, .guestFSBase, .guestFSLimit, .guestFSAccessRights)
    state.gs = segment(vmcs, .guestGSSelector, .guestGSBase, .guestGSLimit, .guestGSAccessRights)
    state.ldtr = segment(
      vmcs, .guestLDTRSelector, .guestLDTRBase, .guestLDTRLimit, .guestLDTRAccessRights)
    state.tr = segment(vmcs, .guestTRSelector, .guestTRBase, .guestTRLimit, .guestTRAccessRights)
    state.gdtr = DescriptorTableState(
      base: vmcs.read(.guestGDTRBase),
      limit: UInt16(truncatingIfNeeded: vmcs.read(.guestGDTRLimit)))
    state.idtr = DescriptorTableState(
      base: vmcs.read(.guestIDTRBase),
      limit: UInt16(truncatingIfNeeded: vmcs.read(.guestIDTRLimit)))
    state.dr6 = unheld.dr6
    state.dr7 = vmcs.read(.guestDR7)
    state.sysenterCS = vmcs.read(.guestSysenterCS)
    state.sysenterESP = vmcs.read(.guestSysenterESP)
    state.sysenterEIP = vmcs.read(.guestSysenterEIP)
    state.star = unheld.star
    state.lstar = unheld.lstar
    state.cstar = unheld.cstar
    state.sfmask = unheld.sfmask
    state.kernelGSBase = unheld.kernelGSBase
    state.pat = vmcs.read(.guestPAT)
    state.tscOffset = vmcs.read(.tscOffset)
    // An event the last exit interrupted waits in the entry interruption information (the
    // run loop's reinjection, SDM 3C §28.2.4); the vCPU's own event comes after it.
    if state.pendingEvent == nil {
      state.pendingEvent = decodeEntryEvent(
        information: vmcs.read(.entryInterruptionInformation),
        errorCode: vmcs.read(.entryExceptionErrorCode))
    }
    let interruptibility = vmcs.read(.guestInterruptibility)
    state.nmiBlocked = interruptibility & blockingByNMI != 0
    if interruptibility & blockingBySTI != 0 {
      state.interruptShadow = .sti
    } else if interruptibility & blockingByMovSS != 0 {
      state.interruptShadow = .movSS
    }
    return state
  }

  /// Returns the state to keep outside the VMCS. `paePointers`: the PDPTEs the guest's CR3
  /// names, which VM entry loads from the VMCS under PAE paging with EPT (SDM 3C
  /// §27.3.2.4); the caller reads them from guest memory when
  /// `PAEDirectoryPointers.pagingInUse` says PAE paging is on.
  @discardableResult
  public static func apply<VMCS: VMCSAccess>(
    _ state: VCPUArchitecturalState, to vmcs: VMCS, vcpu: VirtualCPU,
    capabilities: VMXCapabilities, paePointers: PAEDirectoryPointers? = nil
  ) -> VMXUnheldState {
    vcpu.applyHeldState(state)
    vcpu.faultAddress = state.cr2
    vmcs.write(.guestRSP, state.registers.rsp)
    vmcs.write(.guestRIP, state.registers.rip)
    vmcs.write(.guestRFLAGS, state.registers.rflags)
    // The guest's values go to the read shadows, the processor's with the bits VMX fixes
    // (PE and PG free under unrestricted guest), as the CR handler writes them.
    vmcs.write(.cr0ReadShadow, state.cr0)
    vmcs.write(.guestCR0, capabilities.fixingCR0(state.cr0, unrestrictedGuest: true))
    vmcs.write(.cr4ReadShadow, state.cr4)
    vmcs.write(.guestCR4, capabilities.fixingCR4(state.cr4))
    vmcs.write(.guestCR3, state.cr3)
    vmcs.write(.guestEFER, state.efer)
    // "IA-32e mode guest" must equal EFER.LMA at entry (SDM 3C §27.3.1.1).
    let entry = vmcs.read(.entryControls)
    let ia32e = UInt64(EntryControl.ia32eModeGuest.rawValue)
    vmcs.write(.entryControls, state.efer & lma != 0 ? entry | ia32e : entry & ~ia32e)
    setSegment(
      vmcs, state.es, .guestESSelector, .guestESBase, .guestESLimit, .guestESAccessRights)
    setSegment(
      vmcs, state.cs, .guestCSSelector, .guestCSBase, .guestCSLimit, .guestCSAccessRights,
      alwaysUsable: true)
    setSegment(
      vmcs, state.ss, .guestSSSelector, .guestSSBase, .guestSSLimit, .guestSSAccessRights)
    setSegment(
      vmcs, state.ds, .guestDSSelector, .guestDSBase, .guestDSLimit, .guestDSAccessRights)
    setSegment(
      vmcs, state.fs, .guestFSSelector, .guestFSBase, .guestFSLimit, .guestFSAccessRights)
    setSegment(
      vmcs, state.gs, .guestGSSelector, .guestGSBase, .guestGSLimit, .guestGSAccessRights)
    setSegment(
      vmcs, state.ldtr, .guestLDTRSelector, .guestLDTRBase, .guestLDTRLimit,
      .guestLDTRAccessRights)
    setSegment(
      vmcs, state.tr, .guestTRSelector, .guestTRBase, .guestTRLimit, .guestTRAccessRights,
      alwaysUsable: true)
    vmcs.write(.guestGDTRBase, state.gdtr.base)
    vmcs.write(.guestGDTRLimit, UInt64(state.gdtr.limit))
    vmcs.write(.guestIDTRBase, state.idtr.base)
    vmcs.write(.guestIDTRLimit, UInt64(state.idtr.limit))
    vmcs.write(.guestDR7, state.dr7)
    vmcs.write(.guestSysenterCS, state.sysenterCS)
    vmcs.write(.guestSysenterESP, state.sysenterESP)
    vmcs.write(.guestSysenterEIP, state.sysenterEIP)
    vmcs.write(.guestPAT, state.pat)
    vmcs.write(.tscOffset, state.tscOffset)
    if let paePointers {
      vmcs.write(.guestPDPTE0, paePointers.entry0)
      vmcs.write(.guestPDPTE1, paePointers.entry1)
      vmcs.write(.guestPDPTE2, paePointers.entry2)
      vmcs.write(.guestPDPTE3, paePointers.entry3)
    }
    // The vCPU's pending event is injected at the next entry; nothing else waits.
    vmcs.write(.entryInterruptionInformation, 0)
    var interruptibility = vmcs.read(.guestInterruptibility)
    interruptibility &= ~(blockingBySTI | blockingByMovSS | blockingByNMI)
    switch state.interruptShadow {
    case .none: break
    case .sti: interruptibility |= blockingBySTI
    case .movSS: interruptibility |= blockingByMovSS
    }
    if state.nmiBlocked { interruptibility |= blockingByNMI }
    vmcs.write(.guestInterruptibility, interruptibility)
    // HLT and wait-for-SIPI are the vCPU's (`activity`): the processor stays active
    // (activity state 0, SDM 3C §25.4.2).
    vmcs.write(.guestActivityState, 0)
    var unheld = VMXUnheldState()
    unheld.star = state.star
    unheld.lstar = state.lstar
    unheld.cstar = state.cstar
    unheld.sfmask = state.sfmask
    unheld.kernelGSBase = state.kernelGSBase
    unheld.dr6 = state.dr6
    unheld.cr8 = state.cr8
    return unheld
  }

  /// Table 25-2 to the descriptor order: bits 15:12 move to 11:8; an unusable segment is
  /// held as not present (SegmentAttributes).
  public static func attributes(accessRights: UInt64) -> SegmentAttributes {
    var raw = UInt16(truncatingIfNeeded: accessRights & 0xFF | (accessRights >> 4) & 0xF00)
    if accessRights & unusable != 0 { raw &= ~SegmentAttributes.presentBit }
    return SegmentAttributes(rawValue: raw)
  }

  /// The descriptor order to Table 25-2: a segment that is not present is unusable, except
  /// CS and TR, which VM entry requires usable (SDM 3C §27.3.1.2).
  public static func accessRights(_ attributes: SegmentAttributes, alwaysUsable: Bool = false)
    -> UInt64
  {
    let raw = UInt64(attributes.rawValue)
    var rights = raw & 0xFF | (raw & 0xF00) << 4
    if !attributes.isPresent && !alwaysUsable { rights |= unusable }
    return rights
  }

  /// The event a VM-entry interruption-information value holds, if valid and of a type
  /// PendingEvent has: external interrupt, NMI or hardware exception (SDM 3C §25.8.3).
  /// Software interrupts and exceptions are nil: they need the instruction length.
  public static func decodeEntryEvent(information: UInt64, errorCode: UInt64) -> PendingEvent? {
    guard information & UInt64(VMXEventInjection.valid) != 0 else { return nil }
    let vector = UInt8(truncatingIfNeeded: information)
    switch VMXEventType(rawValue: UInt8((information >> 8) & 7)) {
    case .externalInterrupt: return .externalInterrupt(vector: vector)
    case .nmi: return .nmi
    case .hardwareException:
      let delivers = information & UInt64(VMXEventInjection.deliverErrorCode) != 0
      return .exception(
        vector: vector, errorCode: delivers ? UInt32(truncatingIfNeeded: errorCode) : nil)
    default: return nil
    }
  }

  static func segment<VMCS: VMCSAccess>(
    _ vmcs: VMCS, _ selector: VMCSField, _ base: VMCSField, _ limit: VMCSField,
    _ rights: VMCSField
  ) -> SegmentState {
    SegmentState(
      selector: UInt16(truncatingIfNeeded: vmcs.read(selector)), base: vmcs.read(base),
      limit: UInt32(truncatingIfNeeded: vmcs.read(limit)),
      attributes: attributes(accessRights: vmcs.read(rights)))
  }

  static func setSegment<VMCS: VMCSAccess>(
    _ vmcs: VMCS, _ segment: SegmentState, _ selector: VMCSField, _ base: VMCSField,
    _ limit: VMCSField, _ rights: VMCSField, alwaysUsable: Bool = false
  ) {
    vmcs.write(selector, UInt64(segment.selector))
    vmcs.write(base, segment.base)
    vmcs.write(limit, UInt64(segment.limit))
    vmcs.write(rights, accessRights(segment.attributes, alwaysUsable: alwaysUsable))
  }
}
