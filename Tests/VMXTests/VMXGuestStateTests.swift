import XCTest

@testable import VMX

/// The real-mode guest state that enters under unrestricted guest (values Bochs accepted,
/// /work/shared/design/emulators.md; SDM 3C guest-state checks).
final class VMXGuestStateTests: XCTestCase {
  let state = VMXGuestState.realMode(
    entrySegment: 0x0100, entryOffset: 0x0010, capabilities: BochsSkylake.capabilities)

  func testCodeSegmentAndEntryPoint() {
    XCTAssertEqual(
      state.cs, VMXSegment(selector: 0x100, base: 0x1000, limit: 0xFFFF, accessRights: 0x9B))
    XCTAssertEqual(state.rip, 0x10)
  }

  func testDataSegmentsTRAndLDTR() {
    let data = VMXSegment(selector: 0, base: 0, limit: 0xFFFF, accessRights: 0x93)
    XCTAssertEqual(
      [state.ds, state.es, state.ss, state.fs, state.gs], Array(repeating: data, count: 5))
    XCTAssertEqual(state.tr.accessRights, 0x8B)
    XCTAssertEqual(state.ldtr.accessRights, 0x10082)
    XCTAssertFalse(state.ldtr.isUsable)
    XCTAssertTrue(state.tr.isUsable)
  }

  func testControlRegistersAndFlags() {
    XCTAssertEqual(state.cr0, 0x30)
    XCTAssertEqual(state.cr4, 0x2000)
    XCTAssertEqual(state.rflags, 0x2)
    XCTAssertEqual(state.dr7, 0x400)
    XCTAssertEqual(state.gdtrLimit, 0xFFFF)
    XCTAssertEqual(state.idtrLimit, 0xFFFF)
    XCTAssertEqual(state.vmcsLinkPointer, 0xFFFF_FFFF_FFFF_FFFF)
    XCTAssertEqual(state.efer, 0)
  }

  func testWithoutCapabilitiesTheBaselineValuesAreUsed() {
    let baseline = VMXGuestState.realMode(entrySegment: 0, entryOffset: 0x1000)
    XCTAssertEqual(baseline.cr0, 0x30)
    XCTAssertEqual(baseline.cr4, 0x2000)
    XCTAssertEqual(baseline.cs.base, 0)
    XCTAssertEqual(baseline.rip, 0x1000)
  }

  func testFixedBitsReachCR0AndCR4() {
    var caps = BochsSkylake.capabilities
    caps.cr4Fixed0 |= 0x20  // a processor that insists on PAE
    let fixed = VMXGuestState.realMode(entrySegment: 0, entryOffset: 0, capabilities: caps)
    XCTAssertEqual(fixed.cr4, 0x2020)
    XCTAssertEqual(fixed.cr0 & 0x8000_0001, 0, "PE and PG stay clear under unrestricted guest")
  }

  func testForEachFieldWritesEveryGuestFieldOnce() {
    var written: [VMCSField: UInt64] = [:]
    var count = 0
    state.forEachField { field, value in
      written[field] = value
      count += 1
    }
    XCTAssertEqual(count, written.count, "no field written twice")
    XCTAssertTrue(written.keys.allSatisfy { $0.encoding.type == .guestState })
    XCTAssertEqual(written[.guestCSSelector], 0x100)
    XCTAssertEqual(written[.guestCSBase], 0x1000)
    XCTAssertEqual(written[.guestCSAccessRights], 0x9B)
    XCTAssertEqual(written[.guestTRAccessRights], 0x8B)
    XCTAssertEqual(written[.guestLDTRAccessRights], 0x10082)
    XCTAssertEqual(written[.guestRIP], 0x10)
    XCTAssertEqual(written[.guestCR0], 0x30)
    XCTAssertEqual(written[.vmcsLinkPointer], 0xFFFF_FFFF_FFFF_FFFF)
    let guestFields = VMCSField.allCases.filter { $0.encoding.type == .guestState }
    let missing = guestFields.filter { written[$0] == nil }
    XCTAssertEqual(
      missing, [.guestSMBASE, .preemptionTimerValue], "SMM and timer are not entry state")
  }
}
