/// One CPU's time-slice state on its local APIC timer (LocalAPIC programs the hardware).
/// The timer interrupt ends the slice only when it was armed for the slice's end; a guest
/// timer due earlier re-arms it just to force an exit.
struct SliceTimer {
  /// Set by the timer interrupt; the scheduler reads and clears it.
  var expired = false
  /// The TSC value at which the current slice ends.
  var sliceDeadline: UInt64 = 0
  /// The TSC deadline the timer is armed for (the slice's end or, earlier, a guest timer's).
  var armedDeadline: UInt64 = 0

  /// The slice is over at `now`: the timer fired, or its deadline passed (VMX's preemption
  /// timer ends a slice without an interrupt).
  @inline(__always)
  func isOver(at now: UInt64) -> Bool { expired || now >= sliceDeadline }

  /// The timer interrupt arrived.
  mutating func fired() {
    if armedDeadline >= sliceDeadline { expired = true }
    armedDeadline = 0
  }
}
