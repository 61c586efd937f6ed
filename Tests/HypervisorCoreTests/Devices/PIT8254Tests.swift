import HypervisorCore
import XCTest

/// A clock that moves only when the test says: 1.193182 GHz, so 1000 ticks = 1 PIT tick.
final class ManualClock: GuestClock {
  var now: UInt64 = 1_000_000
  let ticksPerSecond: UInt64 = PIT8254.frequency * 1000
  func advance(pitTicks: UInt64) { now += pitTicks * 1000 }
}

final class PIT8254Tests: XCTestCase {
  private let clock = ManualClock()
  private lazy var pit = PIT8254(clock: clock)

  private func out(_ port: UInt16, _ value: UInt8) {
    _ = pit.write(port: port, size: 1, value: UInt32(value))
  }
  private func input(_ port: UInt16) -> UInt8 {
    UInt8(truncatingIfNeeded: pit.read(port: port, size: 1))
  }

  /// How Linux's quick_pit_calibrate drives channel 2: gate off, mode 0, 0xFFFF, gate on, then
  /// reads low and high bytes and watches the high byte fall by one every 256 ticks.
  func testChannelTwoCountsDownOnlyWhileGated() {
    out(0x61, 0x00)
    out(0x43, 0xB0)  // channel 2, lobyte/hibyte, mode 0
    out(0x42, 0xFF)
    out(0x42, 0xFF)
    clock.advance(pitTicks: 1000)
    _ = input(0x42)
    XCTAssertEqual(input(0x42), 0xFF, "not gated yet: the count holds")
    out(0x61, 0x01)
    clock.advance(pitTicks: 256 * 3)
    let low = input(0x42)
    let high = input(0x42)
    XCTAssertEqual(UInt16(high) << 8 | UInt16(low), 0xFFFF - 256 * 3)
  }

  func testOutputTwoRisesAtTerminalCount() {
    out(0x61, 0x00)
    out(0x43, 0xB0)
    out(0x42, 0x10)
    out(0x42, 0x00)  // 16 ticks
    out(0x61, 0x01)
    XCTAssertEqual(input(0x61) & 0x20, 0)
    clock.advance(pitTicks: 15)
    XCTAssertEqual(input(0x61) & 0x20, 0)
    clock.advance(pitTicks: 1)
    XCTAssertEqual(input(0x61) & 0x20, 0x20)
    XCTAssertEqual(input(0x61) & 0x01, 0x01, "the gate reads back")
  }

  func testLatchFreezesTheCountUntilBothBytesAreRead() {
    out(0x43, 0x34)  // channel 0, lobyte/hibyte, mode 2
    out(0x40, 0x00)
    out(0x40, 0x10)  // 0x1000
    clock.advance(pitTicks: 0x100)
    out(0x43, 0x00)  // latch channel 0
    clock.advance(pitTicks: 0x200)
    XCTAssertEqual(input(0x40), 0x00)
    XCTAssertEqual(input(0x40), 0x0F, "the latched 0x0F00, not the live count")
    XCTAssertEqual(input(0x40), 0x00)
    XCTAssertEqual(input(0x40), 0x0D, "after the latch is read, the live count 0x0D00")
  }

  func testRateGeneratorReloads() {
    out(0x43, 0x34)
    out(0x40, 100)
    out(0x40, 0)
    clock.advance(pitTicks: 250)
    XCTAssertEqual(UInt16(input(0x40)) | UInt16(input(0x40)) << 8, 50)
  }
}
