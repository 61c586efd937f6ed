import HypervisorCore

/// The host's CPUID as a guest may be offered it: RealProcessor's answers less what the
/// backend cannot virtualize on this machine (CPUIDWithholding). Every guest-facing CPUID
/// decision reads this view (both backends' guest state, the fast-path table, the VM's MSR
/// and control-register rules); the host's own feature detection reads RealProcessor.
enum GuestVisibleCPUID: HostProcessor {
  /// Set once by the bootstrap processor's backend, before any VM exists; the application
  /// processors have the same controls.
  nonisolated(unsafe) static var withholding = CPUIDWithholding.none

  static func cpuid(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    withholding.filter(
      leaf: leaf, subleaf: subleaf, host: RealProcessor.cpuid(leaf: leaf, subleaf: subleaf))
  }

  static func timeStampCounter() -> UInt64 { RealProcessor.timeStampCounter() }
}
