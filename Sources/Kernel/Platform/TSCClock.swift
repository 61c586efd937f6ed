import CArch
import HypervisorCore

/// The guests' clock: the time-stamp counter (guests run with a TSC offset of 0), at the
/// rate measured against the PIT at boot.
final class TSCClock: GuestClock {
  static let shared = TSCClock()

  var now: UInt64 { arch_rdtsc() }
  var ticksPerSecond: UInt64 { LocalAPIC.tscPerMillisecond * 1000 }
}
