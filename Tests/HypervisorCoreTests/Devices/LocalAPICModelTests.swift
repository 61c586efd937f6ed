import HypervisorCore
import XCTest

/// A clock at 1 GHz, the APIC bus rate, so bus ticks and clock ticks are the same.
final class NanosecondClock: GuestClock {
  var now: UInt64 = 1_000
  let ticksPerSecond: UInt64 = 1_000_000_000
}

final class LocalAPICModelTests: XCTestCase {
  private let clock = NanosecondClock()
  private lazy var apic = LocalAPICModel(id: 2, clock: clock)

  private func write(_ offset: UInt64, _ value: UInt32) {
    _ = apic.write(offset: offset, size: 4, value: UInt64(value))
  }
  private func read(_ offset: UInt64) -> UInt32 {
    UInt32(truncatingIfNeeded: apic.read(offset: offset, size: 4))
  }

  func testIdentificationAndVersion() {
    XCTAssertEqual(read(0x20), 2 << 24)
    XCTAssertEqual(read(0x30) & 0xFF, 0x14)
    XCTAssertEqual(read(0x320) & (1 << 16), 1 << 16, "LVT timer masked at reset")
  }

  func testOneShotTimerFiresOnceAtItsDeadline() {
    write(0xF0, 0x1FF)  // software enable
    write(0x3E0, 0xB)  // divide by 1
    write(0x320, 0x30)  // one-shot, vector 0x30
    write(0x380, 1000)
    clock.now += 400
    XCTAssertEqual(read(0x390), 600, "current count falls with time")
    XCTAssertFalse(apic.pollTimer())
    clock.now += 600
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(apic.pendingVector, 0x30)
    XCTAssertNil(apic.deadline, "one-shot: disarmed")
  }

  func testPeriodicTimerReloads() {
    write(0xF0, 0x1FF)
    write(0x3E0, 0x0)  // divide by 2
    write(0x320, 1 << 17 | 0x31)
    write(0x380, 500)  // 1000 ns period
    clock.now += 2500
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(apic.deadline, 1_000 + 3000, "the next period after the missed ones")
  }

  func testTSCDeadlineMode() {
    write(0xF0, 0x1FF)
    write(0x320, 2 << 17 | 0x32)
    apic.setTSCDeadline(clock.now + 50)
    XCTAssertEqual(apic.tscDeadline, 1_050)
    clock.now += 50
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(apic.pendingVector, 0x32)
    XCTAssertEqual(apic.tscDeadline, 0)
  }

  func testPriorityInServiceAndEOI() {
    write(0xF0, 0x1FF)
    apic.request(0x41)
    XCTAssertEqual(apic.pendingVector, 0x41)
    apic.acknowledge(0x41)
    XCTAssertNil(apic.pendingVector)
    apic.request(0x35)
    XCTAssertNil(apic.pendingVector, "a lower class waits behind the one in service")
    apic.request(0x52)
    XCTAssertEqual(apic.pendingVector, 0x52, "a higher class preempts")
    write(0xB0, 0)  // EOI ends the highest vector in service: 0x41
    XCTAssertEqual(read(0x100 + 0x20) & (1 << 1), 0, "0x41 no longer in service")
    write(0x80, 0x60)  // TPR above everything requested
    XCTAssertNil(apic.pendingVector)
  }

  func testDisabledAPICDeliversNothingAndSelfIPIIsRequested() {
    apic.request(0x40)
    XCTAssertNil(apic.pendingVector, "software-disabled")
    write(0xF0, 0x1FF)
    write(0x300, 1 << 18 | 0x45)  // self shorthand, fixed, vector 0x45
    XCTAssertEqual(apic.pendingVector, 0x45)
  }
}
