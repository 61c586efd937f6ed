import HypervisorCore
import XCTest

/// A paused VM's guest time stands still: on resume the VM manager moves the device models'
/// times by the paused span (GuestTimedDevice, LocalAPICModel.shiftTime), so a timer has as
/// long left to run as when the VM stopped, and a counter resumes where it stood.
final class PausedTimeTests: XCTestCase {
  func testOneShotAPICTimerKeepsItsRemainingTimeAcrossAPause() {
    let clock = NanosecondClock()
    let apic = LocalAPICModel(id: 0, clock: clock)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    _ = apic.write(offset: 0x3E0, size: 4, value: 0xB)  // divide by 1
    _ = apic.write(offset: 0x320, size: 4, value: 0x30)  // one-shot, vector 0x30
    _ = apic.write(offset: 0x380, size: 4, value: 1_000_000)  // 1 ms
    clock.now += 400_000
    // Paused for 5 ms: without the shift the timer would have fired long ago.
    clock.now += 5_000_000
    apic.shiftTime(by: 5_000_000)
    XCTAssertEqual(apic.read(offset: 0x390, size: 4), 600_000, "the count stood still")
    XCTAssertFalse(apic.pollTimer())
    clock.now += 600_000
    XCTAssertTrue(apic.pollTimer())
  }

  func testTSCDeadlineMovesWithThePause() {
    let clock = NanosecondClock()
    let apic = LocalAPICModel(id: 0, clock: clock)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)
    _ = apic.write(offset: 0x320, size: 4, value: 2 << 17 | 0x32)
    apic.setTSCDeadline(clock.now + 50)
    let armed = apic.deadline
    apic.shiftTime(by: 1_000)
    XCTAssertEqual(apic.deadline, armed.map { $0 + 1_000 })
    clock.now += 1_049
    XCTAssertFalse(apic.pollTimer())
    clock.now += 1
    XCTAssertTrue(apic.pollTimer())
  }

  func testAnUnarmedTimerStaysUnarmed() {
    let apic = LocalAPICModel(id: 0, clock: NanosecondClock())
    apic.shiftTime(by: 1_000)
    XCTAssertNil(apic.deadline)
  }

  func testPITCounterResumesWhereItStood() {
    let clock = ManualClock()
    let pit = PIT8254(clock: clock)
    _ = pit.write(port: 0x43, size: 1, value: 0x34)  // channel 0, lobyte/hibyte, mode 2
    _ = pit.write(port: 0x40, size: 1, value: 0x00)
    _ = pit.write(port: 0x40, size: 1, value: 0x10)  // 0x1000
    clock.advance(pitTicks: 0x100)
    clock.advance(pitTicks: 0x800)  // paused
    pit.shiftTime(by: 0x800 * 1000)
    let low = pit.read(port: 0x40, size: 1)
    let high = pit.read(port: 0x40, size: 1)
    XCTAssertEqual(high << 8 | low, 0x1000 - 0x100)
  }
}
