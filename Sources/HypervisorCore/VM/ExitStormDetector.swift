/// Notices a vCPU that is stuck: exits that make no progress, again and again at the same
/// instruction. An exit makes progress when its instruction completed (the handler moved
/// RIP past it: CPUID, port I/O, MMIO, an accepted MSR access, a hypercall, HLT...). It
/// makes none when the guest is back at the instruction it exited on without completing it:
/// a refused MSR access whose #GP handler returns to it, an exception handler that IRETs to
/// the faulting instruction, an MMIO instruction that re-executes. `limit` such exits in a
/// row at one RIP, with no completed instruction in between, is a storm: the VM is stopped
/// with a report instead of spinning unseen.
///
/// What it does not catch, on purpose: a guest that loops through several exiting
/// instructions (two faulting RIPs in turn, or a loop of completed CPUIDs). That guest runs
/// its own code and keeps only its own time slices, which the scheduler already shares out
/// fairly; it is not a hang of the hypervisor. Host interrupts, time-slice ends and
/// interrupt windows are not the guest's exits and neither count nor reset the run.
///
/// The check is two compares per guest-caused exit (docs/exit-path.md).
public struct ExitStormDetector {
  public var limit: UInt64 = 100_000
  public var enabled = true
  /// Consecutive exits at `stuckRIP` that did not complete their instruction.
  public private(set) var idleRun: UInt64 = 0
  public private(set) var stuckRIP: UInt64 = 0

  public init() {}

  /// Called once per guest-caused exit after its handler ran, with the RIP the exit came
  /// at and the RIP the guest resumes at. Returns true on a storm.
  @inline(__always)
  public mutating func endExit(exitRIP: UInt64, resumeRIP: UInt64) -> Bool {
    if resumeRIP != exitRIP {
      idleRun = 0
      return false
    }
    if exitRIP != stuckRIP || idleRun == 0 {
      stuckRIP = exitRIP
      idleRun = 1
    } else {
      idleRun &+= 1
    }
    return enabled && idleRun >= limit
  }
}
