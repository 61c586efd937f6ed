/// Tells a spin-wait from a stray PAUSE, as PAUSE-loop exiting does in hardware (SDM 3C
/// §25.6.13, PLE_Gap and PLE_Window; AMD's pause filter, APM §15.14.4), for processors
/// that exit on every PAUSE (QEMU's TCG has no filter): PAUSE exits less than `gap` apart
/// form one loop, and a loop that has lasted `window` gives the core away. Times are TSC.
public struct PauseLoopDetector: Equatable {
  public var gap: UInt64
  public var window: UInt64
  private var loopStart: UInt64 = 0
  private var lastPause: UInt64 = 0
  private var inLoop = false

  public init(gap: UInt64 = 0, window: UInt64 = 0) {
    self.gap = gap
    self.window = window
  }

  /// A PAUSE exit at `time`: true when the vCPU has spun for `window` and should yield.
  public mutating func spinsTooLong(at time: UInt64) -> Bool {
    if !inLoop || time &- lastPause > gap {
      inLoop = true
      loopStart = time
    }
    lastPause = time
    guard time &- loopStart >= window else { return false }
    inLoop = false
    return true
  }
}
