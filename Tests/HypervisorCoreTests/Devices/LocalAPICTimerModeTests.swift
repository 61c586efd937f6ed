import HypervisorCore
import XCTest

/// A guest clock at 100 MHz, as Bochs's TSC counts at `ips=100000000`.
final class SlowClock: GuestClock {
  var now: UInt64 = 1_000
  let ticksPerSecond: UInt64 = 100_000_000
}

/// The LVT timer's mode changes (SDM 3A §11.5.4, §11.5.4.1) and its input clock against a
/// TSC slower than 1 GHz, as kvm-unit-tests' apic test checks them.
final class LocalAPICTimerModeTests: XCTestCase {
  private let clock = NanosecondClock()
  private lazy var apic = LocalAPICModel(id: 0, clock: clock)

  private func write(_ offset: UInt64, _ value: UInt32) {
    _ = apic.write(offset: offset, size: 4, value: UInt64(value))
  }
  private func read(_ offset: UInt64) -> UInt32 {
    UInt32(truncatingIfNeeded: apic.read(offset: offset, size: 4))
  }

  override func setUp() {
    write(0xF0, 0x1FF)  // software enable
    write(0x3E0, 0xB)  // divide by 1
  }

  /// A one-shot count made periodic halfway runs on, then reloads from the initial count.
  func testOneShotMadePeriodicKeepsCountingAndReloads() {
    write(0x320, 0x30)  // one-shot
    write(0x380, 1_000_000)
    clock.now += 600_000
    write(0x320, 1 << 17 | 0x30)  // periodic
    XCTAssertEqual(read(0x390), 400_000, "not reset, not stopped")
    clock.now += 400_000
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(apic.pendingVector, 0x30)
    XCTAssertEqual(read(0x390), 1_000_000, "reloaded: periodic now")
    clock.now += 300_000
    XCTAssertEqual(read(0x390), 700_000)
  }

  /// A periodic count made one-shot stops at 0; a count at 0 stays there when made
  /// periodic again.
  func testPeriodicMadeOneShotStopsAtZeroAndStaysThere() {
    write(0x320, 1 << 17 | 0x30)
    write(0x380, 1_000_000)
    clock.now += 700_000
    write(0x320, 0x30)  // one-shot
    XCTAssertEqual(read(0x390), 300_000, "not reset")
    clock.now += 300_000
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(read(0x390), 0)
    XCTAssertNil(apic.deadline)
    write(0x320, 1 << 17 | 0x30)  // periodic, initial count still 1,000,000
    clock.now += 5_000_000
    XCTAssertEqual(read(0x390), 0, "stays at zero")
    XCTAssertEqual(read(0x380), 1_000_000, "TMICT kept")
    XCTAssertFalse(apic.pollTimer())
  }

  /// Into and out of TSC-deadline mode the timer is disarmed (§11.5.4.1).
  func testTSCDeadlineTransitionsDisarm() {
    write(0x320, 0x30)
    write(0x380, 1_000_000)
    write(0x320, 2 << 17 | 0x30)
    XCTAssertNil(apic.deadline, "one-shot to TSC-deadline")
    apic.setTSCDeadline(clock.now + 10)
    write(0x320, 0x30)
    XCTAssertNil(apic.deadline, "TSC-deadline to one-shot")
    clock.now += 2_000_000
    XCTAssertFalse(apic.pollTimer())
  }

  /// With a 100 MHz TSC the timer counts at 100 MHz, not 1 GHz: an initial count of N at
  /// divide-by-1 lasts N TSC ticks (kvm-unit-tests' "APIC LVT timer one shot", 0x10000).
  func testTheTimerNeverCountsFasterThanTheTSC() {
    let slow = SlowClock()
    let apic = LocalAPICModel(id: 0, clock: slow)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    _ = apic.write(offset: 0x3E0, size: 4, value: 0xB)
    _ = apic.write(offset: 0x320, size: 4, value: 0xEE)
    let start = slow.now
    _ = apic.write(offset: 0x380, size: 4, value: 0x10000)
    XCTAssertEqual(apic.deadline, start + 0x10000)
    slow.now += 0x8000
    XCTAssertEqual(apic.read(offset: 0x390, size: 4), 0x8000)
    slow.now += 0x7FFF
    XCTAssertFalse(apic.pollTimer())
    slow.now += 1
    XCTAssertTrue(apic.pollTimer())
    XCTAssertEqual(apic.pendingVector, 0xEE)
  }

  /// At 1 GHz or more the rate is the 1 GHz bus clock, as before.
  func testAFastTSCKeepsTheOneGigahertzBusClock() {
    write(0x320, 0x30)
    write(0x380, 1_000_000)
    XCTAssertEqual(apic.deadline, 1_000 + 1_000_000)
  }
}
