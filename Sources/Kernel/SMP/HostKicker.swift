import CArch
import HypervisorCore
import Synchronization

/// Makes a CPU look at new work promptly: a vCPU request or inbox mail. Only a CPU that is
/// in a guest or asleep gets an IPI; a busy one checks before it enters a guest or sleeps.
/// The poster's write is sequentially consistent and so is the target's change of activity,
/// so either the target sees the work or the poster sees it asleep (or in a guest) and
/// sends the IPI.
final class HostKicker: VCPUKicker, FlightClock {
  /// The flight recorders' clock (FlightRecorder): the host's TSC.
  func now() -> UInt64 { arch_rdtsc() }

  func kick(_ vcpu: VirtualCPU) {
    let target = vcpu.hostCPU.load(ordering: .sequentiallyConsistent)
    guard target >= 0, target < CPUs.all.count else { return }
    Self.wake(CPUs.all[target])
  }

  static func wake(_ cpu: PhysicalCPU) {
    guard cpu.index != CPUs.currentIndex, cpu.currentActivity != .busy else { return }
    LocalAPIC.sendFixed(vector: LocalAPIC.kickVector, to: cpu.apicID)
    cpu.kicksReceived.wrappingAdd(1, ordering: .relaxed)
  }
}
