import XCTest

@testable import BootProtocols

/// PM1x_CNT values for S5 (ACPI 6.4 §4.8.3.2.1).
final class ACPIPowerOffTests: XCTestCase {
  func testControlValues() {
    let powerOff = ACPIPowerOff(
      pm1aControlBlock: 0xB004, pm1bControlBlock: 0xB008, sleepTypeA: 5, sleepTypeB: 7)
    XCTAssertEqual(powerOff.controlValue(forB: false), 0x3400)
    XCTAssertEqual(powerOff.controlValue(forB: true), 0x3C00)
  }

  func testPreservesOtherBitsAndClearsOldSleepType() {
    let powerOff = ACPIPowerOff(
      pm1aControlBlock: 0x604, pm1bControlBlock: nil, sleepTypeA: 0, sleepTypeB: 0)
    // SCI_EN (bit 0) and GBL_RLS (bit 2) survive; a stale SLP_TYP of 7 is cleared.
    XCTAssertEqual(powerOff.controlValue(forB: false, preserving: 0x1C05), 0x2005)
  }

  func testSleepTypeIsMaskedToThreeBits() {
    let powerOff = ACPIPowerOff(
      pm1aControlBlock: 0x604, pm1bControlBlock: nil, sleepTypeA: 0xFF, sleepTypeB: 0)
    XCTAssertEqual(powerOff.controlValue(forB: false), 0x3C00)
  }
}
