/// Notices a guest that keeps the hypervisor busy instead of computing: over windows of
/// `window` guest cycles, if the hypervisor's share exceeds `thresholdPercent` for
/// `windowsToTrip` windows in a row, the VM is stopped. A Linux guest printing to the UART
/// spends well under this; a loop of exiting instructions spends over 90%.
public struct ExitStormDetector {
  public var window: UInt64 = 1 << 24
  public var thresholdPercent: UInt64 = 90
  public var windowsToTrip = 8
  public var enabled = true
  private var windowStart: UInt64 = 0
  private var windowExitCycles: UInt64 = 0
  private var windowExits: UInt64 = 0
  private var hotWindows = 0
  public private(set) var tripped: (exits: UInt64, cycles: UInt64)?

  public init() {}

  /// Records one exit that cost `cycles` at time `now` (TSC). Returns true when the storm
  /// threshold has been crossed.
  @inline(__always)
  public mutating func record(now: UInt64, cycles: UInt64) -> Bool {
    guard enabled else { return false }
    windowExitCycles &+= cycles
    windowExits &+= 1
    let elapsed = now &- windowStart
    guard elapsed >= window else { return false }
    return closeWindow(elapsed: elapsed, now: now)
  }

  private mutating func closeWindow(elapsed: UInt64, now: UInt64) -> Bool {
    let hot = windowStart != 0 && windowExitCycles * 100 > elapsed * thresholdPercent
    hotWindows = hot ? hotWindows + 1 : 0
    let result = hotWindows >= windowsToTrip
    if result { tripped = (windowExits, windowExitCycles) }
    windowStart = now
    windowExitCycles = 0
    windowExits = 0
    return result
  }
}
