import HypervisorCore
import SVM
import XCTest

/// EVENTINJ per APM Vol 2 §15.20: vector 7:0, type 10:8, EV 11, V 31, error code 63:32.
final class SVMEventInjectionTests: XCTestCase {
  func testGeneralProtectionWithErrorCode() {
    // V | EV | type 3 (exception) | vector 13, error code 0x10 in the upper half.
    XCTAssertEqual(
      SVMEventInjection.encode(.exception(vector: 13, errorCode: 0x10)), 0x0000_0010_8000_0B0D)
    XCTAssertEqual(SVMEventInjection.encode(.generalProtection()), 0x0000_0000_8000_0B0D)
  }

  func testPageFaultWithAFullErrorCode() {
    XCTAssertEqual(
      SVMEventInjection.encode(.exception(vector: 14, errorCode: 0xFFFF_FFFF)),
      0xFFFF_FFFF_8000_0B0E)
  }

  func testExceptionWithoutErrorCode() {
    XCTAssertEqual(SVMEventInjection.encode(.invalidOpcode), 0x8000_0306)
    XCTAssertEqual(SVMEventInjection.encode(.exception(vector: 18, errorCode: nil)), 0x8000_0312)
  }

  func testNMI() {
    XCTAssertEqual(
      SVMEventInjection.encode(.nmi) & 0xFFFF_FF00, 0x8000_0200, "V | type 2, no error code")
    XCTAssertEqual(SVMEventInjection.encode(.nmi) >> 32, 0)
  }

  func testExternalInterrupt() {
    XCTAssertEqual(
      SVMEventInjection.encode(.externalInterrupt(vector: 0x20)), 0x8000_0020, "V | type 0 | vector"
    )
    XCTAssertEqual(SVMEventInjection.encode(.externalInterrupt(vector: 0xFF)), 0x8000_00FF)
  }

  func testValidBit() {
    XCTAssertEqual(SVMEventInjection.valid, 0x8000_0000)
    for event in [
      PendingEvent.nmi, .invalidOpcode, .externalInterrupt(vector: 0x30), .generalProtection(4),
    ] {
      XCTAssertNotEqual(SVMEventInjection.encode(event) & SVMEventInjection.valid, 0)
      XCTAssertEqual(SVMEventInjection.encode(event) & 0x7FFF_F000, 0, "reserved bits 30:12 clear")
    }
  }
}

/// Real mode pushes no error code (APM Vol 2 §8.7): EV stays clear there (§15.20).
final class SVMRealModeInjectionTests: XCTestCase {
  func testGeneralProtectionInRealModeHasNoEV() {
    let encoded = SVMEventInjection.encode(.generalProtection(0).delivered(protectedMode: false))
    XCTAssertEqual(encoded, 0x8000_030D)
  }

  func testReinjectionInRealModeClearsEV() {
    XCTAssertEqual(
      SVMEventInjection.reinjection(interrupted: 0x0000_0004_8000_0B0D, protectedMode: false),
      0x0000_0004_8000_030D)
  }

  func testReinjectionInProtectedModeIsUnchanged() {
    XCTAssertEqual(
      SVMEventInjection.reinjection(interrupted: 0x0000_0004_8000_0B0D, protectedMode: true),
      0x0000_0004_8000_0B0D)
    XCTAssertEqual(SVMEventInjection.reinjection(interrupted: 0x0B0D, protectedMode: true), 0)
  }
}

/// Virtual interrupts (APM Vol 2 §15.21.4): the vector in V_INTR_VECTOR, V_IRQ set, V_TPR
/// ignored, V_INTR_MASKING always on.
final class SVMVirtualInterruptTests: XCTestCase {
  func testOfferingEncodesTheVectorAndRequest() {
    XCTAssertEqual(SVMVirtualInterrupt.offering(0x51), 0x0000_0051_011F_0100)
    XCTAssertEqual(SVMVirtualInterrupt.offering(0xFF) >> 32, 0xFF)
    XCTAssertEqual(SVMVirtualInterrupt.none, 0x0100_0000, "masking only, V_IRQ clear")
  }

  func testTakenOnceTheProcessorClearsTheRequest() {
    XCTAssertTrue(SVMVirtualInterrupt.isWaiting(SVMVirtualInterrupt.offering(0x30)))
    XCTAssertFalse(SVMVirtualInterrupt.isWaiting(SVMVirtualInterrupt.offering(0x30) & ~0x100))
    XCTAssertFalse(SVMVirtualInterrupt.isWaiting(SVMVirtualInterrupt.none))
  }

  /// QEMU reports an interrupted virtual interrupt as type 3 (exception) with its vector;
  /// EVENTINJ refuses exceptions above 31, so it goes back as an external interrupt.
  func testAnInterruptReportedAsAnExceptionIsReinjectedAsAnInterrupt() {
    XCTAssertEqual(
      SVMEventInjection.reinjection(interrupted: 0x8000_0351, protectedMode: true), 0x8000_0051)
    XCTAssertEqual(
      SVMEventInjection.reinjection(interrupted: 0x8000_030E, protectedMode: true), 0x8000_030E,
      "a real exception keeps its type")
  }
}
