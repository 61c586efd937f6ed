/// What a guest learns from CPUID (docs/guest-abi.md): the host's answer, with the
/// hypervisor bit set, hardware virtualization hidden (no nesting), and Peregrine's own
/// leaves at 0x4000_0000.
public enum CPUIDPolicy {
  public static let hypervisorLeafMaximum: UInt32 = 0x4000_0001
  public static let abiVersion: UInt32 = 1
  /// "Peregrine HV" as EBX, ECX, EDX.
  public static let signature: (UInt32, UInt32, UInt32) = (0x6572_6550, 0x6E69_7267, 0x5648_2065)

  static let hiddenLeaf1ECX: UInt32 =
    1 << 3 | 1 << 5 | 1 << 12 | 1 << 21 | 1 << 26 | 1 << 27 | 1 << 28 | 1 << 29
  /// Leaf 7 features that need XSAVE-managed state: AVX2 (EBX 5), AVX-512 (EBX 16, 17, 21,
  /// 26, 27, 28, 30, 31), AVX-512/VAES/VPCLMULQDQ (ECX 1, 6, 9, 10, 11, 12, 14), AMX and
  /// AVX-512 (EDX 2, 3, 8, 22, 23, 24).
  /// TSC_ADJUST (EBX 1) too: IA32_TSC_ADJUST is not virtualized.
  static let hiddenLeaf7EBX: UInt32 =
    1 << 1 | 1 << 5 | 1 << 16 | 1 << 17 | 1 << 21 | 1 << 26 | 1 << 27 | 1 << 28 | 1 << 30 | 1 << 31
  static let hiddenLeaf7ECX: UInt32 =
    1 << 1 | 1 << 6 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 14
  /// Also the speculation controls, whose MSRs (SPEC_CTRL, PRED_CMD, FLUSH_CMD,
  /// ARCH_CAPABILITIES) are not virtualized: IBRS/IBPB (26), STIBP (27), L1D_FLUSH (28),
  /// ARCH_CAPABILITIES (29), SSBD (31). A guest told of them writes SPEC_CTRL on every
  /// kernel entry, each write an exit and a #GP.
  static let hiddenLeaf7EDX: UInt32 =
    1 << 2 | 1 << 3 | 1 << 8 | 1 << 22 | 1 << 23 | 1 << 24 | 1 << 26 | 1 << 27 | 1 << 28 | 1 << 29
    | 1 << 31
  /// AMD's speculation controls in leaf 0x8000_0008 EBX: IBPB (12), IBRS (14), STIBP (15),
  /// SSBD (24), VIRT_SSBD (25), for the same reason.
  static let hiddenExtended8EBX: UInt32 = 1 << 12 | 1 << 14 | 1 << 15 | 1 << 24 | 1 << 25

  @inline(__always)
  public static func apply(
    leaf: UInt32, subleaf: UInt32, host: CPUIDLeaf, vcpuIndex: Int, hasLocalAPIC: Bool = false
  ) -> CPUIDLeaf {
    var result = host
    switch leaf {
    case 0x1:
      // ECX[5] VMX cleared, ECX[31] hypervisor present set (SDM 2A CPUID Table 3-10).
      // XSAVE (26), OSXSAVE (27) and what needs them (AVX 28, FMA 12, F16C 29) are not
      // offered: XSETBV is not emulated. MONITOR (3): MWAIT is intercepted. x2APIC (21):
      // no x2APIC model.
      result.ecx = result.ecx & ~hiddenLeaf1ECX | (1 << 31)
      // TSC-deadline timer (24) only where the local APIC is modelled, which implements it.
      result.ecx = hasLocalAPIC ? result.ecx | 1 << 24 : result.ecx & ~(1 << 24)
      // EBX[31:24] initial APIC ID: the vCPU's index.
      result.ebx = result.ebx & 0x00FF_FFFF | UInt32(truncatingIfNeeded: vcpuIndex) << 24
    case 0x7 where subleaf == 0:
      result.ebx &= ~hiddenLeaf7EBX
      result.ecx &= ~hiddenLeaf7ECX
      result.edx &= ~hiddenLeaf7EDX
    case 0x6:
      // APERF/MPERF (ECX 0) are not virtualized; a guest told of them reads both on every
      // scheduler tick, each read an exit and a #GP.
      result.ecx &= ~1
    case 0xD:
      result = CPUIDLeaf()  // XSAVE state components: none offered
    case 0x4000_0000:
      result = CPUIDLeaf(
        eax: hypervisorLeafMaximum, ebx: signature.0, ecx: signature.1, edx: signature.2)
    case 0x4000_0001:
      result = CPUIDLeaf(eax: abiVersion)
    case 0x4000_0002...0x4FFF_FFFF:
      result = CPUIDLeaf()
    case 0x8000_0001:
      result.ecx &= ~(1 << 2)  // SVM (APM Vol 3 E.4.2)
      // RDTSCP (EDX 27): TSC_AUX is neither in the VMCB nor switched, so it is not offered.
      result.edx &= ~(1 << 27)
    case 0x8000_0008:
      result.ebx &= ~hiddenExtended8EBX
    case 0x8000_000A:
      result = CPUIDLeaf()  // SVM features: none
    default:
      break
    }
    return result
  }
}
