/// Time as device models see it: a free-running counter and its rate. The kernel backs it
/// with the TSC (calibrated against the PIT at boot); tests with a counter they advance.
public protocol GuestClock: AnyObject {
  var now: UInt64 { get }
  var ticksPerSecond: UInt64 { get }
}

extension GuestClock {
  /// `now` converted to a device's rate, without overflow for any realistic uptime.
  @inline(__always)
  public func ticks(at frequency: UInt64, since start: UInt64) -> UInt64 {
    let elapsed = now &- start
    let rate = max(ticksPerSecond, 1)
    return (elapsed / rate) * frequency + (elapsed % rate) * frequency / rate
  }
}
