import XCTest

@testable import VMX

/// VM-entry interruption-information encoding (SDM 3C §25.8.3) and its exit-side reading
/// (§25.9.2).
final class VMXEventInjectionTests: XCTestCase {
  func testPageFaultWithErrorCode() {
    XCTAssertEqual(
      VMXEventInjection.encode(vector: 14, type: .hardwareException, errorCode: 2), 0x8000_0B0E)
  }

  func testExternalInterruptAndNMI() {
    XCTAssertEqual(
      VMXEventInjection.encode(vector: 0x20, type: .externalInterrupt, errorCode: nil), 0x8000_0020)
    XCTAssertEqual(VMXEventInjection.encode(vector: 2, type: .nmi, errorCode: nil), 0x8000_0202)
  }

  func testSoftwareEventTypes() {
    XCTAssertEqual(
      VMXEventInjection.encode(vector: 0x80, type: .softwareInterrupt, errorCode: nil), 0x8000_0480)
    XCTAssertEqual(
      VMXEventInjection.encode(vector: 1, type: .privilegedSoftwareException, errorCode: nil),
      0x8000_0501)
    XCTAssertEqual(
      VMXEventInjection.encode(vector: 3, type: .softwareException, errorCode: nil), 0x8000_0603)
  }

  func testEncodingRoundTripsThroughTheExitFormat() {
    let info = VMXInterruptionInformation(
      rawValue: VMXEventInjection.encode(vector: 13, type: .hardwareException, errorCode: 0))
    XCTAssertTrue(info.isValid)
    XCTAssertEqual(info.vector, 13)
    XCTAssertEqual(info.type, .hardwareException)
    XCTAssertTrue(info.hasErrorCode)
    XCTAssertFalse(info.nmiUnblockedByIRET)
    XCTAssertNil(VMXInterruptionInformation(rawValue: 0x8000_0100).type, "type 1 is reserved")
  }
}
