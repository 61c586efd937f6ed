import XCTest

@testable import Memory

final class PageTableSplitTests: XCTestCase {
  private var memory: FakePhysicalMemory!
  private var frames: FakeFrameSource!

  override func setUp() {
    memory = FakePhysicalMemory()
    frames = FakeFrameSource(memory: memory)
  }

  override func tearDown() { memory.deallocate() }

  private let gib: UInt64 = 1 << 30

  func testSplitting1GPageDownTo4KKeepsEveryTranslationAndRight() throws {
    var builder = try PageTableBuilder<HostPagingFormat, FakePhysicalMemory>(
      memory: memory, frames: &frames)
    try builder.map(
      virtual: gib, physical: gib, length: gib, permissions: [.read, .write],
      largestPage: .size1G, frames: &frames)
    let guardPage: UInt64 = gib + 0x1234_5000
    try builder.splitLargePages(containing: guardPage, frames: &frames)

    let stats = builder.statistics()
    XCTAssertEqual(stats.pages1G, 0)
    XCTAssertEqual(stats.pages2M, 511)
    XCTAssertEqual(stats.pages4K, 512)
    for address in [gib, guardPage, guardPage + 0xFFF, guardPage + 0x1000, 2 * gib - 0x1000] {
      let hit = try XCTUnwrap(builder.translate(address))
      XCTAssertEqual(hit.physical, address)
      XCTAssertEqual(hit.permissions, [.read, .write])
    }
    XCTAssertEqual(builder.translate(guardPage)?.size, .size4K)
    XCTAssertEqual(builder.translate(gib + 0x4000_0000 - 0x20_0000)?.size, .size2M)

    // Now one page can go, and only that one.
    try builder.unmap(virtual: guardPage, length: 0x1000)
    XCTAssertNil(builder.translate(guardPage))
    XCTAssertEqual(builder.translate(guardPage - 0x1000)?.physical, guardPage - 0x1000)
    XCTAssertEqual(builder.translate(guardPage + 0x1000)?.physical, guardPage + 0x1000)
  }

  func testSplittingA4KPageOrAnUnmappedAddressTakesNoFrames() throws {
    var builder = try PageTableBuilder<HostPagingFormat, FakePhysicalMemory>(
      memory: memory, frames: &frames)
    try builder.map(
      virtual: 0x1000, physical: 0x1000, length: 0x1000, permissions: [.read, .execute],
      frames: &frames)
    let before = frames.handedOut
    try builder.splitLargePages(containing: 0x1000, frames: &frames)
    try builder.splitLargePages(containing: 0x5000, frames: &frames)
    XCTAssertEqual(frames.handedOut, before)
    XCTAssertEqual(builder.translate(0x1000)?.permissions, [.read, .execute])
  }

  func testPATBitMovesFromBit12ToBit7() {
    let pat: UInt64 = 1 << 12
    let pageSize: UInt64 = 1 << 7
    let flags: UInt64 = 0x3 | 1 << 63  // present, writable, XD
    let large: UInt64 = 0x4000_0000 | pat | pageSize | flags
    let middle = PageTableBuilder<HostPagingFormat, FakePhysicalMemory>.childEntry(
      of: large, size: .size1G, index: 3)
    let middleFrame: UInt64 = 0x4000_0000 + 3 * 0x20_0000
    XCTAssertEqual(middle, middleFrame | pat | pageSize | flags)
    let small = PageTableBuilder<HostPagingFormat, FakePhysicalMemory>.childEntry(
      of: middle, size: .size2M, index: 5)
    let smallFrame: UInt64 = middleFrame + 5 * 0x1000
    XCTAssertEqual(small, smallFrame | pageSize | flags)  // bit 7 is PAT in a 4 KiB entry
  }
}
