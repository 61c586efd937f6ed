import CArch
import HypervisorCore

/// What every backend's run loop does after the handler: count the exit and its cycles,
/// watch for an exit storm, and turn the handler's outcome into the end of the slice or not.
enum ExitAccounting {
  /// nil: enter the guest again.
  @inline(__always)
  /// `exitRIP`: the guest's RIP when it exited, before the handler (ExitStormDetector).
  static func finish(
    _ exit: VMExit, _ outcome: ExitOutcome, vcpu: VirtualCPU, cpu: PhysicalCPU, exitTime: UInt64,
    exitRIP: UInt64
  ) -> SliceResult? {
    let kind = exit.reason.kind  // once for both records
    vcpu.flight.record(.exit, detail: UInt64(kind.rawValue), value: exitRIP, tsc: exitTime)
    vcpu.statistics.record(kind, cycles: arch_rdtsc() &- exitTime)
    if exit.reason.isGuestCaused
      && vcpu.storm.endExit(exitRIP: exitRIP, resumeRIP: vcpu.registers.rip)
    {
      return .stopped(.exitStorm(exits: vcpu.storm.idleRun))
    }
    switch outcome {
    case .resume: return cpu.timer.isOver(at: exitTime) ? .preempted : nil
    case .halt: return .halted
    case .yield:
      // A PAUSE: the core is given away only once the spin-wait has lasted its window.
      return vcpu.pauseLoop.spinsTooLong(at: exitTime) || cpu.timer.isOver(at: exitTime)
        ? .preempted : nil
    case .stop(let reason): return .stopped(reason)
    }
  }
}
