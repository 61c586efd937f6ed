import HypervisorCore
import XCTest

/// SecondLevelWalk: root -> context -> second-level tables in guest RAM (VT-d spec rev 4.1
/// §3.4, §3.6, §9.8), every fault reason it can give.
final class SecondLevelWalkTests: XCTestCase {
  private let edu = RequesterID(bus: 0, device: 3, function: 0)
  private let capability = VirtualRemappingIdentity.capability

  private func walk(
    _ fixture: VirtualRemappingFixture, _ address: UInt64, write: Bool = false, root: UInt64,
    requester: RequesterID? = nil, passThrough: Bool = true
  ) -> SecondLevelWalk.Outcome {
    SecondLevelWalk.translate(
      address, write: write, requester: requester ?? edu, rootTable: root,
      capability: capability, passThrough: passThrough, memory: fixture.memory)
  }

  func testA4KMappingTranslatesWithItsOffset() {
    let fixture = VirtualRemappingFixture()
    let (root, top) = fixture.rootAndContext(for: edu)
    fixture.map(iova: 0x7000, to: 0x20_3000, top: top)
    XCTAssertEqual(walk(fixture, 0x7123, root: root), .translated(0x20_3123))
    XCTAssertEqual(walk(fixture, 0x7FFC, write: true, root: root), .translated(0x20_3FFC))
  }

  func testFourLevelTablesWhenAWIs2() {
    let fixture = VirtualRemappingFixture()
    let (root, top) = fixture.rootAndContext(for: edu, addressWidth: 2)
    fixture.map(iova: 0x80_0000_1000, to: 0x30_0000, top: top, levels: 4)
    XCTAssertEqual(walk(fixture, 0x80_0000_1008, root: root), .translated(0x30_0008))
  }

  func testA2MPageMapsItsWholeRange() {
    let fixture = VirtualRemappingFixture()
    let (root, top) = fixture.rootAndContext(for: edu)
    fixture.map2M(iova: 0x4020_0000, to: 0x20_0000, top: top)
    XCTAssertEqual(walk(fixture, 0x4020_0000, root: root), .translated(0x20_0000))
    XCTAssertEqual(walk(fixture, 0x403F_FFF8, root: root), .translated(0x3F_FFF8))
  }

  func testNotPresentRootAndContextEntries() {
    let fixture = VirtualRemappingFixture()
    let (root, _) = fixture.rootAndContext(for: edu)
    let otherBus = RequesterID(bus: 1, device: 3, function: 0)
    let otherDevice = RequesterID(bus: 0, device: 4, function: 0)
    XCTAssertEqual(
      walk(fixture, 0, root: root, requester: otherBus),
      .fault(code: 0x1, recordingDisabled: false))
    XCTAssertEqual(
      walk(fixture, 0, root: root, requester: otherDevice),
      .fault(code: 0x2, recordingDisabled: false))
  }

  func testUnmappedPagesFaultByDirectionAndFPDIsReported() {
    let fixture = VirtualRemappingFixture()
    let (root, top) = fixture.rootAndContext(for: edu, faultsDisabled: true)
    fixture.map(iova: 0x1000, to: 0x20_0000, rights: 1, top: top)  // read-only
    XCTAssertEqual(walk(fixture, 0x1000, root: root), .translated(0x20_0000))
    XCTAssertEqual(
      walk(fixture, 0x1000, write: true, root: root), .fault(code: 0x5, recordingDisabled: true))
    XCTAssertEqual(walk(fixture, 0x5000, root: root), .fault(code: 0x6, recordingDisabled: true))
    XCTAssertEqual(
      walk(fixture, 0x80_0000_0000, root: root), .fault(code: 0x4, recordingDisabled: true),
      "beyond the 39-bit width of a 3-level domain")
  }

  func testTablesOutsideTheVMsRAMFaultInsteadOfBeingRead() {
    let fixture = VirtualRemappingFixture()
    XCTAssertEqual(
      walk(fixture, 0, root: 0x8000_0000), .fault(code: 0x8, recordingDisabled: false))
    let (root, top) = fixture.rootAndContext(for: edu)
    fixture.store64(0x1_0000_0000 | 3, at: top)  // next level far outside RAM
    XCTAssertEqual(walk(fixture, 0, root: root), .fault(code: 0x7, recordingDisabled: false))
    fixture.store64(0x9000_0000 | 1, at: root)  // context table outside RAM
    XCTAssertEqual(walk(fixture, 0, root: root), .fault(code: 0x9, recordingDisabled: false))
  }

  func testPassThroughAndInvalidTranslationTypes() {
    let fixture = VirtualRemappingFixture()
    let (root, _) = fixture.rootAndContext(for: edu, translationType: 2)
    XCTAssertEqual(walk(fixture, 0x12_3456, root: root), .translated(0x12_3456))
    XCTAssertEqual(
      walk(fixture, 0x12_3456, root: root, passThrough: false),
      .fault(code: 0x3, recordingDisabled: false))
    let (device, _) = fixture.rootAndContext(for: edu, translationType: 1)
    XCTAssertEqual(walk(fixture, 0, root: device), .fault(code: 0x3, recordingDisabled: false))
    let (wide, _) = fixture.rootAndContext(for: edu, addressWidth: 3)  // 57-bit: not in SAGAW
    XCTAssertEqual(walk(fixture, 0, root: wide), .fault(code: 0x3, recordingDisabled: false))
  }

  func testA1GPageIsReservedWithoutSLLPSBit1() {
    let fixture = VirtualRemappingFixture()
    let (root, top) = fixture.rootAndContext(for: edu)
    fixture.store64(0x4000_0000 | 1 << 7 | 3, at: top + 8)
    XCTAssertEqual(
      walk(fixture, 0x4000_0000, root: root), .fault(code: 0xC, recordingDisabled: false))
  }
}
