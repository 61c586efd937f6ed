/// Features the host's CPUID reports that the running backend cannot give a guest, cleared
/// from the host's answers before CPUIDPolicy edits them: the policy then never offers them,
/// on the fast path, the slow path or the per-VM decisions taken from CPUID (IA32_TSC_AUX).
/// VT-x: RDTSCP and RDPID need "enable RDTSCP", INVPCID needs "enable INVPCID" (SDM 3C
/// §25.6.2); without them both raise #UD in the guest, so CPUID must not offer them.
public struct CPUIDWithholding: Equatable, Sendable {
  public var timeStampCounterAuxiliary: Bool
  public var invalidatePCID: Bool

  public init(timeStampCounterAuxiliary: Bool = false, invalidatePCID: Bool = false) {
    self.timeStampCounterAuxiliary = timeStampCounterAuxiliary
    self.invalidatePCID = invalidatePCID
  }

  public static let none = CPUIDWithholding()

  /// INVPCID: CPUID.(7,0):EBX bit 10 (SDM 2A Table 3-8).
  public static let invpcid: UInt32 = 1 << 10

  /// The host's answer with the withheld bits cleared: RDTSCP is CPUID.8000_0001:EDX bit 27,
  /// RDPID CPUID.(7,0):ECX bit 22.
  public func filter(leaf: UInt32, subleaf: UInt32, host: CPUIDLeaf) -> CPUIDLeaf {
    var result = host
    if leaf == 0x8000_0001 && timeStampCounterAuxiliary { result.edx &= ~CPUIDPolicy.rdtscp }
    if leaf == 7 && subleaf == 0 {
      if timeStampCounterAuxiliary { result.ecx &= ~CPUIDPolicy.rdpid }
      if invalidatePCID { result.ebx &= ~Self.invpcid }
    }
    return result
  }
}
