import XCTest

@testable import VMX

/// Field encodings against SDM 3C Appendix B and the encoding rules of §25.11.2.
final class VMCSFieldTests: XCTestCase {
  func testGuestRIPIsNaturalWidthGuestState() {
    let encoding = VMCSField.guestRIP.encoding
    XCTAssertEqual(VMCSField.guestRIP.rawValue, 0x681E)
    XCTAssertEqual(encoding.width, .natural)
    XCTAssertEqual(encoding.type, .guestState)
    XCTAssertEqual(encoding.accessType, .full)
    XCTAssertEqual(encoding.index, 15)
  }

  func testEPTPointerIs64BitControl() {
    let encoding = VMCSField.eptPointer.encoding
    XCTAssertEqual(VMCSField.eptPointer.rawValue, 0x201A)
    XCTAssertEqual(encoding.width, .bits64)
    XCTAssertEqual(encoding.type, .control)
    XCTAssertEqual(encoding.index, 13)
    XCTAssertEqual(encoding.high?.rawValue, 0x201B)
    XCTAssertEqual(encoding.high?.accessType, .high)
  }

  func testExitReasonIs32BitReadOnlyData() {
    let encoding = VMCSField.exitReason.encoding
    XCTAssertEqual(VMCSField.exitReason.rawValue, 0x4402)
    XCTAssertEqual(encoding.width, .bits32)
    XCTAssertEqual(encoding.type, .readOnlyData)
    XCTAssertEqual(encoding.index, 1)
    XCTAssertNil(encoding.high, "only 64-bit fields have a high half")
  }

  func testVPIDAndSelectorsAre16Bit() {
    XCTAssertEqual(VMCSField.virtualProcessorID.rawValue, 0x0000)
    XCTAssertEqual(VMCSField.virtualProcessorID.encoding.type, .control)
    XCTAssertEqual(VMCSField.guestTRSelector.rawValue, 0x080E)
    XCTAssertEqual(VMCSField.guestTRSelector.encoding.width, .bits16)
    XCTAssertEqual(VMCSField.guestTRSelector.encoding.type, .guestState)
    XCTAssertEqual(VMCSField.hostTRSelector.rawValue, 0x0C0C)
    XCTAssertEqual(VMCSField.hostTRSelector.encoding.type, .hostState)
  }

  func testHostStateFields() {
    XCTAssertEqual(VMCSField.hostRIP.rawValue, 0x6C16)
    XCTAssertEqual(VMCSField.hostRSP.rawValue, 0x6C14)
    XCTAssertEqual(VMCSField.hostEFER.rawValue, 0x2C02)
    XCTAssertEqual(VMCSField.hostEFER.encoding.width, .bits64)
    XCTAssertEqual(VMCSField.hostSysenterCS.rawValue, 0x4C00)
    XCTAssertEqual(VMCSField.hostSysenterCS.encoding.width, .bits32)
    XCTAssertEqual(VMCSField.hostSysenterCS.encoding.type, .hostState)
  }

  func testControlAndExitInformationFields() {
    XCTAssertEqual(VMCSField.pinBasedControls.rawValue, 0x4000)
    XCTAssertEqual(VMCSField.primaryProcessorControls.rawValue, 0x4002)
    XCTAssertEqual(VMCSField.secondaryProcessorControls.rawValue, 0x401E)
    XCTAssertEqual(VMCSField.exitControls.rawValue, 0x400C)
    XCTAssertEqual(VMCSField.entryControls.rawValue, 0x4012)
    XCTAssertEqual(VMCSField.entryInterruptionInformation.rawValue, 0x4016)
    XCTAssertEqual(VMCSField.instructionError.rawValue, 0x4400)
    XCTAssertEqual(VMCSField.exitQualification.rawValue, 0x6400)
    XCTAssertEqual(VMCSField.exitQualification.encoding.type, .readOnlyData)
    XCTAssertEqual(VMCSField.guestPhysicalAddress.rawValue, 0x2400)
    XCTAssertEqual(VMCSField.vmcsLinkPointer.rawValue, 0x2800)
    XCTAssertEqual(VMCSField.preemptionTimerValue.rawValue, 0x482E)
  }

  func testEveryFieldIsWellFormedFullAccess() {
    for field in VMCSField.allCases {
      XCTAssertTrue(field.encoding.isWellFormed, "\(field)")
      XCTAssertEqual(field.encoding.accessType, .full, "\(field)")
    }
  }

  func testSegmentFieldsFollowTheESCSSSDSFSGSLDTRTROrder() {
    let selectors: [VMCSField] = [
      .guestESSelector, .guestCSSelector, .guestSSSelector, .guestDSSelector,
      .guestFSSelector, .guestGSSelector, .guestLDTRSelector, .guestTRSelector,
    ]
    let accessRights: [VMCSField] = [
      .guestESAccessRights, .guestCSAccessRights, .guestSSAccessRights, .guestDSAccessRights,
      .guestFSAccessRights, .guestGSAccessRights, .guestLDTRAccessRights, .guestTRAccessRights,
    ]
    XCTAssertEqual(selectors.map { $0.encoding.index }, Array(UInt16(0)...7))
    XCTAssertEqual(accessRights.map { $0.encoding.index }, Array(UInt16(10)...17))
  }

  func testMalformedEncodingsAreRejected() {
    XCTAssertFalse(VMCSFieldEncoding(rawValue: 0x1_681E).isWellFormed, "bit 16 reserved")
    XCTAssertFalse(VMCSFieldEncoding(rawValue: 0x781E).isWellFormed, "bit 12 reserved")
    XCTAssertFalse(
      VMCSFieldEncoding(rawValue: 0x681F).isWellFormed, "high access of a natural field")
    XCTAssertTrue(VMCSFieldEncoding(rawValue: 0x201B).isWellFormed, "high access of a 64-bit field")
  }
}
