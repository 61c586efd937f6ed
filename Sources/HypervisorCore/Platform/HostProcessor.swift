/// The host instructions a backend's guest-state access needs (CPUID, RDTSC). The kernel
/// implements it with the C shim; tests with fixtures.
public protocol HostProcessor {
  static func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf
  static func timeStampCounter() -> UInt64
}
