import Synchronization

/// How many of a VM's vCPUs could still run or be woken. A vCPU leaves the count when its
/// own CPU finds it halted, stopped or waiting for SIPI with nothing that could wake it
/// (`VirtualCPU.noteAsleep`), and comes back the moment anything is posted to it. At zero
/// the VM can never run again.
///
/// Counted rather than read off the vCPUs' states: another CPU may be between taking a
/// vCPU's posted interrupt into its APIC and marking it runnable, when the vCPU looks halted
/// with nothing pending (a VM stopped as "halted waiting for an interrupt" with an IPI in
/// flight, docs/smp.md).
public final class AwakeVCPUs {
  let count: Atomic<Int>

  public init(_ vcpus: Int) { count = Atomic(vcpus) }

  public var value: Int { count.load(ordering: .sequentiallyConsistent) }
}

extension VirtualCPU {
  /// Its own CPU judged it asleep and no post has come since (reports; racy by nature).
  public var isJudgedAsleep: Bool { judgedAsleep.load(ordering: .relaxed) }

  /// A post found this vCPU judged asleep: it counts as awake again. Safe from any CPU;
  /// exactly one of the racing callers gets the flag and counts.
  @inline(__always)
  func wakeIfJudgedAsleep() {
    guard judgedAsleep.load(ordering: .sequentiallyConsistent),
      judgedAsleep.exchange(false, ordering: .sequentiallyConsistent)
    else { return }
    let now = awakeVCPUs?.count.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
    flight.note(.awake, value: UInt64(truncatingIfNeeded: now ?? -1))
  }

  /// Owner CPU, with the vCPU halted, stopped or waiting for SIPI and nothing pending (no
  /// request, interrupt or guest timer): it leaves the VM's awake count. Returns true when
  /// it was the last one, so the VM can never wake.
  public func noteAsleep() -> Bool {
    guard let awake = awakeVCPUs, !judgedAsleep.load(ordering: .relaxed) else { return false }
    judgedAsleep.store(true, ordering: .sequentiallyConsistent)
    let remaining = awake.count.wrappingSubtract(1, ordering: .sequentiallyConsistent).newValue
    flight.note(.asleep, value: UInt64(truncatingIfNeeded: remaining))
    // A post that came before the flag was set did not see it: count back in ourselves.
    if requests.load(ordering: .sequentiallyConsistent) != 0 {
      wakeIfJudgedAsleep()
      return false
    }
    return remaining == 0
  }
}
