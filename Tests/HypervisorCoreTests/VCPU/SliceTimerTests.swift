import Testing

@testable import HypervisorCore

@Suite struct SliceTimerTests {
  /// The slice's own timer interrupt, at its deadline, ends the slice.
  @Test func interruptAtTheDeadlineEndsTheSlice() {
    var timer = SliceTimer(sliceDeadline: 1_500)
    timer.armed(until: 1_500, at: 1_000)
    timer.fired(at: 1_500)
    #expect(timer.expired)
    #expect(timer.isOver(at: 1_100))
    #expect(timer.armedDeadline == 0)
  }

  /// The previous slice's interrupt, left pending in the host APIC after VMX's preemption
  /// timer ended that slice, arrives right after the next slice is armed: it must not end
  /// the new slice (bochs-vmx-smp-pinned-beside-noisy starved a vCPU this way).
  @Test func staleInterruptAtTheStartOfASliceIsIgnored() {
    var timer = SliceTimer(sliceDeadline: 600_000)
    timer.armed(until: 600_000, at: 100_000)
    timer.fired(at: 100_050)
    #expect(!timer.expired)
    #expect(!timer.isOver(at: 100_100))
    #expect(timer.armedDeadline == 600_000)  // still armed: its own interrupt ends it
    timer.fired(at: 600_010)
    #expect(timer.expired)
  }

  /// A guest timer due before the slice's end forces an exit only.
  @Test func earlierGuestTimerDoesNotEndTheSlice() {
    var timer = SliceTimer(sliceDeadline: 2_000)
    timer.armed(until: 1_200, at: 1_000)
    timer.fired(at: 1_200)
    #expect(!timer.expired)
    #expect(timer.armedDeadline == 0)
  }

  /// Armed for a deadline already past: the interrupt counts whenever it comes.
  @Test func deadlineAlreadyPastCounts() {
    var timer = SliceTimer(sliceDeadline: 900)
    timer.armed(until: 900, at: 1_000)
    timer.fired(at: 1_001)
    #expect(timer.expired)
  }
}
