import CArch
import HypervisorCore

/// The machine's own MC146818 real-time clock, read once at boot (after the TSC is
/// calibrated): the node's calendar time, which the TSC then carries on (`wallClock`). Every
/// guest's RTC (CMOSClock) runs on it. QEMU's RTC keeps UTC; a machine whose RTC keeps
/// local time gives its guests local time too.
enum HostRTC {
  /// The node's calendar time; the epoch until `start()` read the RTC.
  nonisolated(unsafe) static var wallClock = GuestClockWallClock(
    clock: TSCClock.shared, start: 0, epochNanoseconds: 0)

  static func start() {
    guard let seconds = read(), seconds >= 0 else {
      Log.warning("rtc: the machine's RTC gave no date; guests' clocks start at 1970-01-01")
      wallClock = GuestClockWallClock(
        clock: TSCClock.shared, start: arch_rdtsc(), epochNanoseconds: 0)
      return
    }
    wallClock = GuestClockWallClock(
      clock: TSCClock.shared, start: arch_rdtsc(),
      epochNanoseconds: UInt64(seconds) &* 1_000_000_000)
    guard Log.begin(.info) else { return }
    let time = CalendarTime(secondsSinceEpoch: seconds)
    Console.write("rtc: ")
    Console.write(decimal: UInt64(time.year))
    for (separator, value) in [
      ("-", time.month), ("-", time.day), (" ", time.hour), (":", time.minute),
      (":", time.second),
    ] {
      Console.write(separator)
      if value < 10 { Console.write("0") }
      Console.write(decimal: UInt64(value))
    }
    Console.write(" (the machine's RTC), the guests' clocks run from it")
    Log.end()
  }

  /// Seconds since the epoch: the time fields read twice, outside an update cycle, until
  /// two reads agree (MC146818A: UIP warns 244 µs ahead of an update).
  private static func read() -> Int64? {
    var previous: [UInt8] = []
    for _ in 0..<8 {
      var waited = 0
      while register(0x0A) & 0x80 != 0 && waited < 100_000 { waited += 1 }
      let fields = [0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0x0B].map { register(UInt8($0)) }
      if fields == previous { return seconds(fields) }
      previous = fields
    }
    return nil
  }

  /// Seconds from the fields read (second, minute, hour, day, month, year, century,
  /// register B), in BCD or binary and 12- or 24-hour mode as register B says.
  private static func seconds(_ fields: [UInt8]) -> Int64? {
    let binary = fields[7] & 0x04 != 0
    let twentyFourHour = fields[7] & 0x02 != 0
    func value(_ byte: UInt8) -> Int? { binary ? Int(byte) : BinaryCodedDecimal.decode(byte) }
    guard let second = value(fields[0]), let minute = value(fields[1]),
      var hour = value(twentyFourHour ? fields[2] : fields[2] & 0x7F),
      let day = value(fields[3]), let month = value(fields[4]), let year = value(fields[5])
    else { return nil }
    if !twentyFourHour { hour = hour % 12 + (fields[2] & 0x80 != 0 ? 12 : 0) }
    // A machine without a century byte: years 70-99 are 19xx, the rest 20xx.
    let century =
      value(fields[6]).flatMap { (19...21).contains($0) ? $0 : nil } ?? (year >= 70 ? 19 : 20)
    return CalendarTime(
      year: century * 100 + year, month: month, day: day, hour: hour, minute: minute,
      second: second
    ).secondsSinceEpoch
  }

  private static func register(_ number: UInt8) -> UInt8 {
    arch_outb(0x70, number)  // bit 7 clear: NMIs stay enabled
    return arch_inb(0x71)
  }
}
