/// Calendar time as the node knows it: nanoseconds since 1970-01-01 00:00:00 UTC. The kernel
/// reads the machine's own RTC once at boot and counts on from there with the TSC; tests
/// set it. Guests see it through their CMOS clock, each with its own offset.
public protocol WallClock: AnyObject {
  var nanosecondsSinceEpoch: UInt64 { get }
}

/// A wall clock that starts at `epochNanoseconds` when `clock` reads `start` and runs with
/// it: the kernel's (the TSC), or an exit trace's replay clock.
public final class GuestClockWallClock: WallClock {
  let clock: any GuestClock
  let start: UInt64
  let epochNanoseconds: UInt64

  public init(clock: any GuestClock, start: UInt64, epochNanoseconds: UInt64) {
    self.clock = clock
    self.start = start
    self.epochNanoseconds = epochNanoseconds
  }

  public var nanosecondsSinceEpoch: UInt64 {
    epochNanoseconds &+ clock.nanoseconds(since: start)
  }
}
