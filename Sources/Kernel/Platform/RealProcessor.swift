import CArch
import HypervisorCore

/// The host processor's CPUID and TSC for the backends' guest-state access.
enum RealProcessor: HostProcessor {
  @inline(__always)
  static func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    let r = arch_cpuid(leaf, subleaf)
    return CPUIDLeaf(eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx)
  }

  @inline(__always)
  static func timeStampCounter() -> UInt64 { arch_rdtsc() }
}
