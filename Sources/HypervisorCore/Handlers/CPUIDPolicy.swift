/// What a guest learns from CPUID (docs/guest-abi.md): the host's answer, with the
/// hypervisor bit set, hardware virtualization hidden (no nesting), and Peregrine's own
/// leaves at 0x4000_0000.
public enum CPUIDPolicy {
  public static let hypervisorLeafMaximum: UInt32 = 0x4000_0001
  public static let abiVersion: UInt32 = 1
  /// "Peregrine HV" as EBX, ECX, EDX.
  public static let signature: (UInt32, UInt32, UInt32) = (0x6572_6550, 0x6E69_7267, 0x5648_2065)

  @inline(__always)
  public static func apply(leaf: UInt32, subleaf: UInt32, host: CPUIDLeaf, vcpuIndex: Int) -> CPUIDLeaf {
    var result = host
    switch leaf {
    case 0x1:
      // ECX[5] VMX cleared, ECX[31] hypervisor present set (SDM 2A CPUID Table 3-10).
      result.ecx = result.ecx & ~(1 << 5) | (1 << 31)
      // EBX[31:24] initial APIC ID: the vCPU's index.
      result.ebx = result.ebx & 0x00FF_FFFF | UInt32(truncatingIfNeeded: vcpuIndex) << 24
    case 0x4000_0000:
      result = CPUIDLeaf(eax: hypervisorLeafMaximum, ebx: signature.0, ecx: signature.1, edx: signature.2)
    case 0x4000_0001:
      result = CPUIDLeaf(eax: abiVersion)
    case 0x4000_0002...0x4FFF_FFFF:
      result = CPUIDLeaf()
    case 0x8000_0001:
      result.ecx &= ~(1 << 2)  // SVM (APM Vol 3 E.4.2)
    case 0x8000_000A:
      result = CPUIDLeaf()  // SVM features: none
    default:
      break
    }
    return result
  }
}
