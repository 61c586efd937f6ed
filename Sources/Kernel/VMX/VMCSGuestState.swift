import CArch
import HypervisorCore
import VMX

/// GuestStateAccess over the current VMCS: what handlers may read and change of the guest
/// when the backend is VMX.
struct VMCSGuestState: GuestStateAccess {
  let capabilities: VMXCapabilities

  func mode() -> GuestMode {
    let cr0 = VMCS.read(.guestCR0)
    let efer = VMCS.read(.guestEFER)
    // Access rights (SDM 3C Table 25-2): bit 13 L, bit 14 D/B.
    let cs = VMCS.read(.guestCSAccessRights)
    let width: GuestMode.Width
    if cr0 & 1 == 0 {
      width = .real
    } else if efer & (1 << 10) != 0 && cs & (1 << 13) != 0 {
      width = .long64
    } else {
      width = cs & (1 << 14) != 0 ? .protected32 : .protected16
    }
    var mode = GuestMode(
      width: width, codeSegmentBase: VMCS.read(.guestCSBase),
      dataSegmentBase: VMCS.read(.guestDSBase),
      extraSegmentBase: VMCS.read(.guestESBase), cr0: cr0, cr3: VMCS.read(.guestCR3),
      cr4: VMCS.read(.guestCR4), efer: efer)
    mode.stackSegmentBase = VMCS.read(.guestSSBase)
    mode.fsBase = VMCS.read(.guestFSBase)
    mode.gsBase = VMCS.read(.guestGSBase)
    return mode
  }

  func instructionFetchKey(rip: UInt64) -> InstructionFetchKey {
    let paging = VMCS.read(.guestCR0) & (1 << 31) != 0
    return InstructionFetchKey(
      linear: VMCS.read(.guestCSBase) &+ rip,
      addressSpace: paging ? VMCS.read(.guestCR3) : InstructionFetchKey.unpaged)
  }

  /// DPL of SS is the CPL (SDM 3A §5.5).
  var privilegeLevel: UInt8 { UInt8((VMCS.read(.guestSSAccessRights) >> 5) & 3) }

  static func field(for index: UInt32) -> VMCSField? {
    switch index {
    case 0x277: return .guestPAT
    case 0xC000_0100: return .guestFSBase
    case 0xC000_0101: return .guestGSBase
    case 0x174: return .guestSysenterCS
    case 0x175: return .guestSysenterESP
    case 0x176: return .guestSysenterEIP
    default: return nil
    }
  }

  func readStateMSR(_ index: UInt32) -> UInt64? {
    if index == 0xC000_0080 { return VMCS.read(.guestEFER) }
    if let field = Self.field(for: index) { return VMCS.read(field) }
    // The SYSCALL MSRs and KernelGSbase are on the processor during the guest's slice.
    if VMXGuest.syscallMSRIndices.contains(index) { return arch_rdmsr(index) }
    return nil
  }

  mutating func writeStateMSR(_ index: UInt32, _ value: UInt64) -> Bool {
    if index == 0xC000_0080 {
      let current = VMCS.read(.guestEFER)
      // LME cannot change while paging is on: #GP (APM Vol 2 §14.6.1, SDM 3A §10.8.5). Left
      // through, LME would differ from the "IA-32e mode guest" entry control with CR0.PG = 1
      // and VM entry would fail its guest-state checks (SDM 3C §27.3.1.1).
      guard EFERRules.permits(value, current: current, cr0: readControlRegister(0)) else {
        return false
      }
      // LMA is the processor's: keep the guest's current LMA.
      VMCS.write(.guestEFER, value & ~EFERRules.lma | current & EFERRules.lma)
      return true
    }
    if let field = Self.field(for: index) {
      VMCS.write(field, value)
      return true
    }
    if VMXGuest.syscallMSRIndices.contains(index) {
      arch_wrmsr(index, value)
      return true
    }
    return false
  }

  func readControlRegister(_ number: UInt8) -> UInt64 {
    switch number {
    case 0:
      let mask = VMCS.read(.cr0GuestHostMask)
      return VMCS.read(.guestCR0) & ~mask | VMCS.read(.cr0ReadShadow) & mask
    case 3: return VMCS.read(.guestCR3)
    case 4:
      let mask = VMCS.read(.cr4GuestHostMask)
      return VMCS.read(.guestCR4) & ~mask | VMCS.read(.cr4ReadShadow) & mask
    default: return 0
    }
  }

  /// The guest's value goes to the read shadow; the processor gets it with the fixed bits
  /// VMX operation requires (PE and PG free under unrestricted guest). Turning paging on
  /// with EFER.LME set enters IA-32e mode: LMA is set here, as the processor would have.
  mutating func writeControlRegister(_ number: UInt8, _ value: UInt64) -> Bool {
    switch number {
    case 0:
      // PG without PE, or NW without CD, are #GP (SDM 2A MOV CR).
      if value & (1 << 31) != 0 && value & 1 == 0 { return false }
      if value & (1 << 29) != 0 && value & (1 << 30) == 0 { return false }
      let old = VMCS.read(.guestCR0)
      VMCS.write(.cr0ReadShadow, value)
      VMCS.write(.guestCR0, capabilities.fixingCR0(value, unrestrictedGuest: true))
      let efer = VMCS.read(.guestEFER)
      let pagingOn = value & (1 << 31) != 0
      if pagingOn != (old & (1 << 31) != 0) && efer & (1 << 8) != 0 {
        VMCS.write(.guestEFER, pagingOn ? efer | 1 << 10 : efer & ~(1 << 10))
      }
    case 3:
      VMCS.write(.guestCR3, value)
    case 4:
      VMCS.write(.cr4ReadShadow, value)
      VMCS.write(.guestCR4, capabilities.fixingCR4(value))
    default:
      return false
    }
    return true
  }

  /// With EPT, VM entry in PAE paging loads the PDPTEs from the guest PDPTE fields, not from
  /// memory (SDM 3C §27.3.2.4); the processor saves them there on exit (§28.3.4).
  var holdsPAEPointers: Bool { true }

  mutating func loadPAEPointers(_ pointers: PAEDirectoryPointers) {
    VMCS.write(.guestPDPTE0, pointers.entry0)
    VMCS.write(.guestPDPTE1, pointers.entry1)
    VMCS.write(.guestPDPTE2, pointers.entry2)
    VMCS.write(.guestPDPTE3, pointers.entry3)
  }

  func hostCPUID(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    GuestVisibleCPUID.cpuid(leaf: leaf, subleaf: subleaf)
  }

  func guestTimeStampCounter() -> UInt64 { arch_rdtsc() &+ VMCS.read(.tscOffset) }

  /// The TSC-offset field, which "use TSC offsetting" applies to RDTSC, RDTSCP and RDMSR
  /// of IA32_TSC in the guest (SDM 3C §26.3).
  var timeStampCounterOffset: UInt64 { VMCS.read(.tscOffset) }

  mutating func setGuestTimeStampCounter(_ value: UInt64) {
    VMCS.write(.tscOffset, value &- arch_rdtsc())
  }

  /// CR2 is not a VMCS field: the world switch loads it from the register file, where
  /// LinearAccessCheck put it (`VirtualCPU.faultAddress`). Holding the vCPU here instead
  /// cost 133 emulated instructions on every VT-x exit (docs/exit-path.md, step 4).
  func setFaultAddress(_ linear: UInt64) {}
}
