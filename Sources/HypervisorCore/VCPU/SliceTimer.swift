/// One CPU's time-slice state on its local APIC timer (the kernel's LocalAPIC programs the
/// hardware). The timer interrupt ends the slice only when it was armed for the slice's end;
/// a guest timer due earlier re-arms it just to force an exit.
public struct SliceTimer: Equatable {
  /// Set by the timer interrupt; the scheduler reads and clears it.
  public var expired = false
  /// The TSC value at which the current slice ends.
  public var sliceDeadline: UInt64 = 0
  /// The TSC deadline the timer is armed for (the slice's end or, earlier, a guest timer's).
  public var armedDeadline: UInt64 = 0
  /// The TSC value when the hardware timer was last programmed (`armed`).
  public var armedAt: UInt64 = 0

  public init(
    expired: Bool = false, sliceDeadline: UInt64 = 0, armedDeadline: UInt64 = 0,
    armedAt: UInt64 = 0
  ) {
    self.expired = expired
    self.sliceDeadline = sliceDeadline
    self.armedDeadline = armedDeadline
    self.armedAt = armedAt
  }

  /// The slice is over at `now`: the timer fired, or its deadline passed (VMX's preemption
  /// timer ends a slice without an interrupt).
  @inline(__always)
  public func isOver(at now: UInt64) -> Bool { expired || now >= sliceDeadline }

  /// The hardware timer was programmed at `now` to fire at `deadline`.
  public mutating func armed(until deadline: UInt64, at now: UInt64) {
    armedDeadline = deadline
    armedAt = now
  }

  /// The timer interrupt arrived at `now`.
  ///
  /// An interrupt of an earlier arming can still arrive: VMX's preemption timer ends a slice
  /// at the same deadline, often just before the APIC timer, whose interrupt then waits in
  /// the host APIC's IRR (masking the LVT and a zero count do not withdraw it, SDM 3A
  /// §11.5.4) and is taken at the next slice's first entry. Counted, it ended that slice
  /// after one exit: two vCPUs of a VM sharing a core, the second got a few exits per slice
  /// and never ran past the IPIs the first sent it (bochs-vmx-smp-pinned-beside-noisy).
  /// So an interrupt before half the armed interval has passed is stale and ignored; the
  /// timer stays armed, and its own interrupt comes at the deadline.
  public mutating func fired(at now: UInt64) {
    if armedDeadline > armedAt, now &- armedAt < (armedDeadline &- armedAt) / 2 { return }
    if armedDeadline >= sliceDeadline { expired = true }
    armedDeadline = 0
  }
}
