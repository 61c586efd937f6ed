import XCTest

@testable import HypervisorCore

/// An exception delivered in real mode pushes no error code (SDM 3A §21.1.4).
final class PendingEventDeliveryTests: XCTestCase {
  func testRealModeDropsTheErrorCode() {
    XCTAssertEqual(
      PendingEvent.generalProtection(0).delivered(protectedMode: false),
      .exception(vector: 13, errorCode: nil))
    XCTAssertEqual(
      PendingEvent.exception(vector: 14, errorCode: 2).delivered(protectedMode: false),
      .exception(vector: 14, errorCode: nil))
  }

  func testProtectedModeKeepsTheErrorCode() {
    XCTAssertEqual(
      PendingEvent.generalProtection(4).delivered(protectedMode: true), .generalProtection(4))
  }

  func testEventsWithoutErrorCodeAreUnchanged() {
    for event in [PendingEvent.invalidOpcode, .nmi, .externalInterrupt(vector: 0x30)] {
      XCTAssertEqual(event.delivered(protectedMode: false), event)
    }
  }

  /// kvm-unit-tests' idt_test: the RFLAGS a fault pushes has RF (SDM 3A §6.12.1).
  func testFaultsEnterWithResumeFlagAndOtherEventsDoNot() {
    let flags: UInt64 = 0x202
    for event in [PendingEvent.generalProtection(0), .invalidOpcode, .pageFault(2)] {
      XCTAssertTrue(event.isFault)
      XCTAssertEqual(event.enteringFlags(flags), 0x1_0202, "\(event)")
    }
    let others: [PendingEvent] = [
      .exception(vector: 1, errorCode: nil), .exception(vector: 3, errorCode: nil),
      .exception(vector: 8, errorCode: 0), .exception(vector: 18, errorCode: nil), .nmi,
      .externalInterrupt(vector: 0x30),
    ]
    for event in others {
      XCTAssertFalse(event.isFault)
      XCTAssertEqual(event.enteringFlags(flags), flags, "\(event)")
    }
  }
}
