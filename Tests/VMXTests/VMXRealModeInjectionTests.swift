import HypervisorCore
import XCTest

@testable import VMX

/// Events delivered to a real-mode guest (unrestricted guest, CR0.PE = 0) carry no error
/// code: "deliver error code" would fail the entry (SDM 3C §27.2.1.3).
final class VMXRealModeInjectionTests: XCTestCase {
  func testGeneralProtectionInRealModeIsEncodedWithoutDeliverErrorCode() {
    let event = PendingEvent.generalProtection(0).delivered(protectedMode: false)
    guard case .exception(let vector, let errorCode) = event else {
      return XCTFail("not an exception")
    }
    let encoded = VMXEventInjection.encode(
      vector: vector, type: .hardwareException, errorCode: errorCode)
    XCTAssertEqual(encoded, 0x8000_030D)
    XCTAssertEqual(encoded & VMXEventInjection.deliverErrorCode, 0)
  }

  func testReinjectionInRealModeDropsDeliverErrorCode() {
    // Valid | bit 12 (NMI unblocking, undefined on entry) | error code | exception | #GP.
    let vectoring: UInt32 = 0x8000_1B0D
    XCTAssertEqual(
      VMXEventInjection.reinjection(vectoring: vectoring, protectedMode: false), 0x8000_030D)
  }

  func testReinjectionInProtectedModeKeepsDeliverErrorCode() {
    XCTAssertEqual(
      VMXEventInjection.reinjection(vectoring: 0x8000_1B0E, protectedMode: true), 0x8000_0B0E)
  }
}
