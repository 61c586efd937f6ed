/// The ACPI power-management timer (ACPI 6.4 §4.8.3.3): a free-running counter at
/// 3.579545 MHz read from PM_TMR_BLK, 24 bits wide (the FADT leaves TMR_VAL_EXT clear).
/// It counts guest time: the guest clock (the TSC in the kernel) converted to its rate, so it
/// needs no exits to advance and stands still while the VM is paused (`shiftTime`).
public final class ACPIPMTimer: PortDevice, GuestTimedDevice {
  public static let frequency: UInt64 = 3_579_545
  public static let mask: UInt32 = 0x00FF_FFFF

  let clock: any GuestClock
  let base: UInt16
  /// The clock value at which the counter was 0.
  var start: UInt64

  public init(clock: any GuestClock, port: UInt16) {
    self.clock = clock
    base = port
    start = clock.now
  }

  public var count: UInt32 {
    UInt32(truncatingIfNeeded: clock.ticks(at: Self.frequency, since: start)) & Self.mask
  }

  /// A read of `size` bytes at `port` in the 4-byte block: the counter's bytes from there.
  public func read(port: UInt16, size: UInt8) -> UInt32 {
    let shift = UInt32((port &- base) & 3) * 8
    let value = count >> shift
    return size >= 4 ? value : value & ((1 << (UInt32(size) * 8)) - 1)
  }

  /// The counter is read-only.
  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect { .none }

  public func shiftTime(by cycles: UInt64) { start &+= cycles }
}

extension ACPIPMTimer: StatefulDevice {
  /// Guest time since the counter was 0: the count follows from it at any clock rate.
  public struct State: Equatable {
    public var elapsedNanoseconds: UInt64 = 0
    public init(elapsedNanoseconds: UInt64 = 0) { self.elapsedNanoseconds = elapsedNanoseconds }
  }

  public func save() -> State { State(elapsedNanoseconds: clock.nanoseconds(since: start)) }

  public func restore(_ state: State) {
    start = clock.instant(nanosecondsAgo: state.elapsedNanoseconds)
  }
}
