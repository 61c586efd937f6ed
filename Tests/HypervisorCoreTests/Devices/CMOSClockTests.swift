import HypervisorCore
import XCTest

/// A wall clock the test sets.
final class SettableWallClock: WallClock {
  var nanosecondsSinceEpoch: UInt64
  init(seconds: UInt64) { nanosecondsSinceEpoch = seconds * 1_000_000_000 }
  func advance(seconds: Double) { nanosecondsSinceEpoch += UInt64(seconds * 1e9) }
}

final class CalendarTimeTests: XCTestCase {
  func testKnownDatesBothWays() {
    let known: [(Int64, CalendarTime, Int)] = [
      (0, CalendarTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0), 5),
      (951_782_400, CalendarTime(year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0), 3),
      (
        1_796_405_696,
        CalendarTime(year: 2026, month: 12, day: 4, hour: 17, minute: 34, second: 56), 6
      ),
      (
        4_107_542_399,
        CalendarTime(year: 2100, month: 2, day: 28, hour: 23, minute: 59, second: 59), 1
      ),
      (-1, CalendarTime(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59), 4),
    ]
    for (seconds, time, weekday) in known {
      XCTAssertEqual(CalendarTime(secondsSinceEpoch: seconds), time, "\(seconds)")
      XCTAssertEqual(time.secondsSinceEpoch, seconds, "\(time)")
      XCTAssertEqual(time.weekday, weekday, "\(time)")
    }
  }

  func testEveryDayOfFourCenturiesRoundTrips() {
    var previous = CalendarTime(secondsSinceEpoch: -86_400 * 365 * 200)
    var seconds = previous.secondsSinceEpoch!
    for _ in 0..<(146_097 * 1) {
      seconds += 86_400
      let time = CalendarTime(secondsSinceEpoch: seconds)
      XCTAssertEqual(time.secondsSinceEpoch, seconds)
      // Consecutive: the next day of the month, or the first of the next month.
      XCTAssertTrue(
        time.day == previous.day + 1
          || (time.day == 1
            && previous.day == CalendarTime.daysIn(month: previous.month, year: previous.year))
      )
      previous = time
    }
  }

  func testImpossibleDatesHaveNoSeconds() {
    for (month, day, year) in [
      (13, 1, 2026), (4, 31, 2026), (2, 29, 2100), (2, 30, 2000), (0, 1, 2026),
    ] {
      XCTAssertNil(
        CalendarTime(year: year, month: month, day: day, hour: 0, minute: 0, second: 0)
          .secondsSinceEpoch)
    }
    XCTAssertNotNil(
      CalendarTime(year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0).secondsSinceEpoch)
  }
}

final class CMOSClockTests: XCTestCase {
  /// 2026-12-04 17:34:56 UTC, a Friday.
  private let wall = SettableWallClock(seconds: 1_796_405_696)
  private lazy var rtc = CMOSClock(wallClock: wall)

  private func read(_ register: UInt8) -> UInt8 {
    _ = rtc.write(port: 0x70, size: 1, value: UInt32(register))
    return UInt8(truncatingIfNeeded: rtc.read(port: 0x71, size: 1))
  }
  private func write(_ register: UInt8, _ value: UInt8) {
    _ = rtc.write(port: 0x70, size: 1, value: UInt32(register))
    _ = rtc.write(port: 0x71, size: 1, value: UInt32(value))
  }
  private func fields() -> [UInt8] { [0, 2, 4, 6, 7, 8, 9, 0x32].map { read($0) } }

  func testItReadsTheWallClockInBCDAnd24HourModeAtReset() {
    XCTAssertEqual(read(0x0A), 0x26)
    XCTAssertEqual(read(0x0B), 0x02)
    XCTAssertEqual(read(0x0D), 0x80)
    XCTAssertEqual(fields(), [0x56, 0x34, 0x17, 0x06, 0x04, 0x12, 0x26, 0x20])
    wall.advance(seconds: 65)
    XCTAssertEqual(read(0x00), 0x01)
    XCTAssertEqual(read(0x02), 0x36)
  }

  func testBinaryAnd12HourModes() {
    write(0x0B, 0x04)  // binary, 12-hour
    XCTAssertEqual(fields(), [56, 34, 0x85, 6, 4, 12, 26, 20])  // 5 PM
    wall.nanosecondsSinceEpoch -= 17 * 3600 * 1_000_000_000  // 00:34: 12 AM
    XCTAssertEqual(read(0x04), 12)
    write(0x0B, 0x00)  // BCD, 12-hour
    wall.nanosecondsSinceEpoch += 12 * 3600 * 1_000_000_000  // 12:34: 12 PM
    XCTAssertEqual(read(0x04), 0x92)
  }

  func testSetHoldsTheTimeAndClearingItStartsFromTheWrittenTime() {
    write(0x0B, 0x82)  // SET, 24-hour, BCD
    wall.advance(seconds: 10)
    XCTAssertEqual(read(0x00), 0x56, "SET holds the fields")
    XCTAssertEqual(read(0x0A) & 0x80, 0, "no update while SET")
    for (register, value) in [
      (0x09, 0x99), (0x32, 0x19), (0x08, 0x12), (0x07, 0x31), (0x04, 0x23), (0x02, 0x59),
      (0x00, 0x58),
    ] {
      write(UInt8(register), UInt8(value))
    }
    write(0x0B, 0x02)
    XCTAssertEqual(
      fields().dropFirst(0).map { $0 }, [0x58, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x19])
    wall.advance(seconds: 2)
    XCTAssertEqual(
      fields(), [0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20], "into 2000, a Saturday")
  }

  func testAWriteWithoutSetMovesOnlyThatField() {
    write(0x09, 0x30)  // the year
    XCTAssertEqual(fields(), [0x56, 0x34, 0x17, 0x04, 0x04, 0x12, 0x30, 0x20])
    wall.advance(seconds: 4)
    XCTAssertEqual(read(0x00), 0x00)
    XCTAssertEqual(read(0x02), 0x35)
  }

  func testAnImpossibleTimeLeavesTheClockAsItWas() {
    write(0x08, 0x13)  // month 13
    write(0x00, 0x6A)  // not BCD
    XCTAssertEqual(fields(), [0x56, 0x34, 0x17, 0x06, 0x04, 0x12, 0x26, 0x20])
    write(0x0B, 0x82)
    write(0x07, 0x31)  // 31 December is fine, 31 November is not
    write(0x08, 0x11)
    write(0x0B, 0x02)
    XCTAssertEqual(read(0x08), 0x12)
  }

  func testUpdateInProgressAndUpdateEndedFollowTheWallSecond() {
    wall.nanosecondsSinceEpoch += 999_800_000  // 200 µs before the next second
    XCTAssertEqual(read(0x0A) & 0x80, 0x80)
    _ = read(0x0C)  // clears the flags
    XCTAssertEqual(read(0x0C), 0)
    wall.advance(seconds: 0.001)
    XCTAssertEqual(read(0x0A) & 0x80, 0)
    XCTAssertEqual(read(0x0C), 0x10, "UF after the update")
    XCTAssertEqual(read(0x0C), 0, "reading C cleared it")
    write(0x0B, 0x12)  // UIE
    wall.advance(seconds: 1)
    XCTAssertEqual(read(0x0C), 0x90, "IRQF with UF and UIE")
    write(0x0A, 0x70)  // divider held in reset: the clock stops updating
    wall.advance(seconds: 1)
    XCTAssertEqual(read(0x0C), 0)
  }

  func testRAMKeepsBytesAndRegistersCAndDIgnoreWrites() {
    write(0x40, 0xA5)
    write(0x7F, 0x5A)
    write(0x0D, 0x00)
    XCTAssertEqual(read(0x40), 0xA5)
    XCTAssertEqual(read(0x7F), 0x5A)
    XCTAssertEqual(read(0x0D), 0x80)
    _ = rtc.write(port: 0x70, size: 1, value: 0xC0)  // index 0x40 with NMIs masked
    XCTAssertEqual(UInt8(truncatingIfNeeded: rtc.read(port: 0x71, size: 1)), 0xA5)
    XCTAssertEqual(rtc.read(port: 0x70, size: 1), 0xFF, "the index port is write-only")
  }

  func testAHostileStateIsRefusedAndAnExtremeOffsetNeverTraps() {
    var state = rtc.save()
    state.offsetSeconds = Int64.min / 2
    XCTAssertThrowsError(try CMOSClock.State.decoded(state.encoded()))
    state.offsetSeconds = CMOSClock.maximumOffsetSeconds
    XCTAssertEqual(try CMOSClock.State.decoded(state.encoded()), state)
    // Restored directly (no decoding): every field still reads as two digits.
    for offset in [Int64.min / 2, -CMOSClock.maximumOffsetSeconds, Int64.max / 2] {
      state.offsetSeconds = offset
      rtc.restore(state)
      for mode: UInt8 in [0x02, 0x06, 0x00] {
        write(0x0B, mode)
        for field in fields() where mode & 0x04 == 0 {
          XCTAssertTrue((field & 0x7F) >> 4 <= 9 && field & 0xF <= 9, "\(offset): \(field)")
        }
      }
    }
  }

  func testRandomPortIOKeepsTheRegistersSound() {
    var generator = SeededGenerator(seed: 0x70_71)
    for _ in 0..<20_000 {
      let port: UInt16 = Bool.random(using: &generator) ? 0x70 : 0x71
      let size: UInt8 = [1, 2, 4].randomElement(using: &generator)!
      if Bool.random(using: &generator) {
        _ = rtc.write(
          port: port, size: size, value: UInt32.random(in: 0...UInt32.max, using: &generator))
      } else {
        _ = rtc.read(port: port, size: size)
      }
      wall.advance(seconds: Double.random(in: 0...2, using: &generator))
      let state = rtc.save()
      XCTAssertLessThan(state.index, 0x80)
      XCTAssertEqual(state.bytes[0x0A] & 0x80, 0)
      XCTAssertEqual(state.bytes[0x0C], 0)
      XCTAssertEqual(state.bytes[0x0D], 0)
      XCTAssertEqual(try CMOSClock.State.decoded(state.encoded()), state)
    }
  }

  func testStateMovesTheOffsetToAnotherNodesClock() {
    write(0x09, 0x30)  // four years ahead of the wall clock
    write(0x41, 0x77)
    write(0x0B, 0x06)  // binary
    let saved = rtc.save()
    XCTAssertEqual(try CMOSClock.State.decoded(saved.encoded()), saved)
    // Another node whose wall clock is an hour later.
    let other = SettableWallClock(seconds: 1_796_405_696 + 3600)
    let moved = CMOSClock(wallClock: other)
    XCTAssertTrue(moved.restore(savedDevice: .cmosClock(saved)))
    _ = moved.write(port: 0x70, size: 1, value: 0x09)
    XCTAssertEqual(moved.read(port: 0x71, size: 1), 30)
    _ = moved.write(port: 0x70, size: 1, value: 0x04)
    XCTAssertEqual(moved.read(port: 0x71, size: 1), 18, "the hour follows the new node's clock")
    _ = moved.write(port: 0x70, size: 1, value: 0x41)
    XCTAssertEqual(moved.read(port: 0x71, size: 1), 0x77)
    XCTAssertFalse(moved.restore(savedDevice: .pit(PIT8254.State())))
  }
}
