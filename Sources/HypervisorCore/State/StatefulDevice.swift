/// A device model whose state is one plain value: `save` takes it, `restore` puts it back
/// into a device built the same way (same configuration: ports, IDs, wiring), which then
/// behaves as the saved one would have. Time-based state is held relative to the device's
/// guest clock (nanoseconds of guest time), so it resumes on a clock that started elsewhere
/// or runs at another rate: another host's TSC. Call at a safe point, between exits.
public protocol StatefulDevice: AnyObject {
  associatedtype State: Equatable
  func save() -> State
  func restore(_ state: State)
}

extension GuestClock {
  /// Guest time from `start` to now, in nanoseconds (0 if `start` is in the future).
  public func nanoseconds(since start: UInt64) -> UInt64 {
    let now = self.now
    guard now > start else { return 0 }
    return GuestTime.nanoseconds(ticks: now - start, rate: ticksPerSecond)
  }

  /// Nanoseconds from now until `instant` (0 if it has passed).
  public func nanoseconds(until instant: UInt64) -> UInt64 {
    let now = self.now
    guard instant > now else { return 0 }
    return GuestTime.nanoseconds(ticks: instant - now, rate: ticksPerSecond)
  }

  /// The clock value `nanoseconds` before now.
  public func instant(nanosecondsAgo nanoseconds: UInt64) -> UInt64 {
    now &- GuestTime.ticks(nanoseconds: nanoseconds, rate: ticksPerSecond)
  }

  /// The clock value `nanoseconds` from now.
  public func instant(nanosecondsFromNow nanoseconds: UInt64) -> UInt64 {
    now &+ GuestTime.ticks(nanoseconds: nanoseconds, rate: ticksPerSecond)
  }
}

/// Conversions between a clock's ticks and guest nanoseconds, without overflow for any
/// realistic rate (up to 18 GHz) and saturating past 2^64 - 1 nanoseconds.
enum GuestTime {
  static func nanoseconds(ticks: UInt64, rate: UInt64) -> UInt64 {
    let rate = max(rate, 1)
    let (whole, overflow) = (ticks / rate).multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return UInt64.max }
    return whole &+ (ticks % rate) * 1_000_000_000 / rate
  }

  static func ticks(nanoseconds: UInt64, rate: UInt64) -> UInt64 {
    let (whole, overflow) = (nanoseconds / 1_000_000_000).multipliedReportingOverflow(by: rate)
    if overflow { return UInt64.max }
    return whole &+ (nanoseconds % 1_000_000_000) * rate / 1_000_000_000
  }
}
