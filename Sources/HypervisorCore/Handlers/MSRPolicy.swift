/// Which MSRs a guest may touch and how (docs/guest-abi.md). Anything not listed gets
/// #GP(0), on read and write alike: the architectural answer for an MSR that does not exist.
public struct MSRPolicy {
  public enum Rule: Equatable {
    /// Held in the vendor's guest state (VMCB/VMCS): read and written there.
    case vendorState
    /// Reads return this constant; writes raise #GP.
    case readOnly(UInt64)
    /// Reads return this constant; writes are accepted and dropped.
    case constantIgnoringWrites(UInt64)
    /// Kept per vCPU in the hypervisor; the guest reads back what it wrote.
    case shadowed(initial: UInt64)
    /// The guest's time-stamp counter.
    case timeStampCounter
    /// IA32_TSC_DEADLINE: the vCPU's local APIC timer in TSC-deadline mode (#GP without one).
    case tscDeadline
  }

  public static let efer: UInt32 = 0xC000_0080
  public static let pat: UInt32 = 0x277
  public static let timeStampCounter: UInt32 = 0x10
  public static let apicBase: UInt32 = 0x1B

  public var rules: [(index: UInt32, rule: Rule)] = [
    (efer, .vendorState),
    (pat, .vendorState),
    (0xC000_0081, .vendorState),  // STAR
    (0xC000_0082, .vendorState),  // LSTAR
    (0xC000_0083, .vendorState),  // CSTAR
    (0xC000_0084, .vendorState),  // SFMASK
    (0xC000_0100, .vendorState),  // FS.base
    (0xC000_0101, .vendorState),  // GS.base
    (0xC000_0102, .vendorState),  // KernelGSbase
    (0x174, .vendorState),  // SYSENTER_CS
    (0x175, .vendorState),  // SYSENTER_ESP
    (0x176, .vendorState),  // SYSENTER_EIP
    (timeStampCounter, .timeStampCounter),
    (0x6E0, .tscDeadline),
    // xAPIC at its default base, enabled; bit 8 (BSP) is added for vCPU 0.
    (apicBase, .constantIgnoringWrites(0xFEE0_0800)),
    (0xFE, .readOnly(0)),  // MTRRcap: no variable or fixed MTRRs
    (0x2FF, .constantIgnoringWrites(0x6 | 1 << 11)),  // MTRRdefType: write-back, enabled
    (0x1A0, .readOnly(1)),  // MISC_ENABLE: fast strings
    (0x8B, .constantIgnoringWrites(0)),  // microcode revision signature
    (0xC001_0015, .shadowed(initial: 0)),  // AMD HWCR
  ]

  public init() {}

  @inline(__always)
  public func rule(for index: UInt32) -> Rule? {
    for entry in rules where entry.index == index { return entry.rule }
    return nil
  }
}
