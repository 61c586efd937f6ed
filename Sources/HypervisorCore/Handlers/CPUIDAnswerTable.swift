/// The CPUID answers the world switch may give without returning to the run loop
/// (exit_fast_path.h, docs/exit-path.md): precomputed per vCPU by CPUIDPolicy, the same code
/// CPUIDHandler runs, so the handler stays written once. 96 slots: leaves 0-0x1F,
/// 0x4000_0000-0x4000_001F and 0x8000_0000-0x8000_001F; any other leaf takes the slow path.
public enum CPUIDAnswerTable {
  public static let slotCount = 96

  /// One slot's answer: `subleaf` non-nil when it is valid only for ECX equal to it.
  public struct Answer: Equatable {
    public var result: CPUIDLeaf
    public var subleaf: UInt32?
  }

  /// The leaf a slot holds (the world switch indexes by `(leaf >> 30) * 32 + (leaf & 0x1F)`).
  public static func leaf(atSlot slot: Int) -> UInt32 {
    UInt32(slot >> 5) << 30 | UInt32(slot & 0x1F)
  }

  /// Leaves whose answer depends on ECX (SDM 2A CPUID; APM Vol 3 App. E.3): only subleaf 0
  /// is tabled. Every other leaf ignores ECX, in hardware and in CPUIDPolicy.
  public static func isSubleafIndexed(_ leaf: UInt32) -> Bool {
    switch leaf {
    case 0x4, 0x7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1B, 0x1D, 0x1E, 0x1F,
      0x8000_001D:
      return true
    default: return false
    }
  }

  /// Leaves left to the slow path because their answer could depend on guest state the
  /// table does not follow: 0xD (XSAVE components follow XCR0), and 7 where PKU is offered
  /// (its OSPKE follows CR4.PKE). Leaf 1's OSXSAVE bit would follow CR4.OSXSAVE, but XSAVE
  /// is not offered (CPUIDPolicy.offeredLeaf1ECX), so without a local APIC leaf 1 is
  /// constant for the vCPU; CPUIDAnswerTableTests fails if XSAVE is ever offered.
  public static func followsGuestState(_ leaf: UInt32, offersPKU: Bool = false) -> Bool {
    leaf == 0xD || (leaf == 7 && offersPKU)
  }

  /// Leaves whose APIC bit (EDX 9) follows IA32_APIC_BASE.EN where a local APIC is modelled
  /// (CPUIDPolicy): 1 and 0x8000_0001 take the slow path then. Neither is hot (the exit
  /// benchmark and kvm-unit-tests' vmexit_cpuid ask leaf 0).
  public static func followsLocalAPICEnable(_ leaf: UInt32) -> Bool {
    leaf == 0x1 || leaf == 0x8000_0001
  }

  /// The slot's answer for this vCPU, or nil when the leaf must take the slow path.
  public static func answer(
    slot: Int, vcpuIndex: Int, hasLocalAPIC: Bool, vcpuCount: Int,
    host: (_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf
  ) -> Answer? {
    let leaf = leaf(atSlot: slot)
    let offersPKU = leaf == 7 && CPUIDPolicy.offersProtectionKeys(host: host)
    guard !followsGuestState(leaf, offersPKU: offersPKU),
      !(hasLocalAPIC && followsLocalAPICEnable(leaf))
    else { return nil }
    let result = CPUIDPolicy.apply(
      leaf: leaf, subleaf: 0, host: host(leaf, 0), vcpuIndex: vcpuIndex,
      hasLocalAPIC: hasLocalAPIC, vcpuCount: vcpuCount)
    return Answer(result: result, subleaf: isSubleafIndexed(leaf) ? 0 : nil)
  }
}
