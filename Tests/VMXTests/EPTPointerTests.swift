import XCTest

@testable import VMX

/// The EPTP layout (SDM 3C §25.6.11) and the INVEPT/INVVPID type choice (Appendix A.10).
final class EPTPointerTests: XCTestCase {
  let caps = BochsSkylake.capabilities

  func testWriteBackFourLevel() {
    let pointer = EPTPointer(root: 0x12_3000, memoryType: .writeBack)
    XCTAssertEqual(pointer.value, 0x12_301E)
    XCTAssertEqual(pointer.pageWalkLength, 4)
    XCTAssertEqual(pointer.memoryType, .writeBack)
    XCTAssertFalse(pointer.accessedDirtyEnabled)
    XCTAssertEqual(pointer.root, 0x12_3000)
  }

  func testUncacheableWithAccessedDirty() {
    let pointer = EPTPointer(root: 0x8000_0000, memoryType: .uncacheable, accessedDirty: true)
    XCTAssertEqual(pointer.value, 0x8000_0058)
    XCTAssertTrue(pointer.accessedDirtyEnabled)
  }

  func testRootOffsetBitsAreDropped() {
    XCTAssertEqual(EPTPointer(root: 0x5FFF).value, 0x501E)
  }

  func testSupportFollowsTheCapabilities() {
    XCTAssertTrue(EPTPointer(root: 0x1000, accessedDirty: true).isSupported(by: caps))
    var noAD = caps
    noAD.eptVPIDCap &= ~(1 << 21)
    XCTAssertFalse(EPTPointer(root: 0x1000, accessedDirty: true).isSupported(by: noAD))
    XCTAssertTrue(EPTPointer(root: 0x1000).isSupported(by: noAD))
    XCTAssertFalse(EPTPointer(rawValue: 0x1019).isSupported(by: caps), "type 1 (WC)")
  }

  func testInveptPrefersSingleContext() {
    XCTAssertEqual(caps.preferredInveptType, .singleContext)
    XCTAssertEqual(InveptType.preferred(byEPTVPIDCap: (1 << 20) | (1 << 26)), .allContexts)
    XCTAssertNil(InveptType.preferred(byEPTVPIDCap: (1 << 25) | (1 << 26)), "bit 20 clear")
    XCTAssertEqual(InveptType.singleContext.rawValue, 1)
    XCTAssertEqual(InveptType.allContexts.rawValue, 2)
  }

  func testInvvpidTypesFollowBits40To43() {
    XCTAssertEqual(caps.preferredInvvpidType, .singleContext)
    let onlyAll: UInt64 = (1 << 32) | (1 << 42)
    XCTAssertEqual(InvvpidType.preferred(byEPTVPIDCap: onlyAll), .allContexts)
    XCTAssertFalse(InvvpidType.individualAddress.isSupported(byEPTVPIDCap: onlyAll))
    XCTAssertTrue(
      InvvpidType.singleContextRetainingGlobals.isSupported(byEPTVPIDCap: (1 << 32) | (1 << 43)))
    XCTAssertNil(InvvpidType.preferred(byEPTVPIDCap: (1 << 41) | (1 << 42)), "bit 32 clear")
    XCTAssertEqual(InvvpidType.allCases.map(\.rawValue), [0, 1, 2, 3])
  }
}
