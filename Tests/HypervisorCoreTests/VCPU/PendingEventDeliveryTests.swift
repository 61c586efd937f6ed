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
}
