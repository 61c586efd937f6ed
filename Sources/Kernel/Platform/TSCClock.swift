import CArch
import HypervisorCore

/// The guests' clock: the host's time-stamp counter, at the rate measured against the PIT
/// at boot. A guest's TSC is this plus its vCPU's TSC offset (0 unless it wrote IA32_TSC);
/// MSRHandler translates IA32_TSC_DEADLINE between the two.
final class TSCClock: GuestClock {
  static let shared = TSCClock()

  var now: UInt64 { arch_rdtsc() }
  var ticksPerSecond: UInt64 { LocalAPIC.tscPerMillisecond * 1000 }
}
