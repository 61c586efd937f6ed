import XCTest

@testable import Memory

final class DirtyPageBitmapTests: XCTestCase {
  func testMarkCountsEachPageOnceAndIgnoresPagesBeyond() {
    var bitmap = DirtyPageBitmap(pageCount: 100)
    XCTAssertTrue(bitmap.mark(3))
    XCTAssertFalse(bitmap.mark(3))
    XCTAssertFalse(bitmap.mark(100))
    bitmap.mark(guestPhysical: 0x40FFF, length: 2)  // pages 0x40 and 0x41
    XCTAssertEqual(bitmap.dirtyCount, 3)
    var pages: [UInt64] = []
    bitmap.forEachDirty { pages.append($0) }
    XCTAssertEqual(pages, [3, 0x40, 0x41])
  }

  func testMarkAllSetsExactlyThePagesAndWindowIsTheWireLayout() {
    var bitmap = DirtyPageBitmap(pageCount: 70)
    bitmap.markAll()
    XCTAssertEqual(bitmap.dirtyCount, 70)
    XCTAssertFalse(bitmap.isDirty(70))
    XCTAssertEqual(bitmap.window(from: 64, maximumBytes: 100), [0x3F])
    bitmap.clear()
    bitmap.mark(9)
    bitmap.mark(66)
    XCTAssertEqual(bitmap.window(from: 0, maximumBytes: 2), [0, 0x02])
    XCTAssertEqual(bitmap.window(from: 8, maximumBytes: 100), [0x02, 0, 0, 0, 0, 0, 0, 0x04])
    XCTAssertNil(bitmap.window(from: 3, maximumBytes: 1))
    XCTAssertEqual(bitmap.window(from: 72, maximumBytes: 1), [])
  }
}

final class WriteTrackingTests: XCTestCase {
  private var memory: FakePhysicalMemory!
  private var frames: FakeFrameSource!

  override func setUp() {
    memory = FakePhysicalMemory(size: 8 << 20)
    frames = FakeFrameSource(memory: memory)
  }

  override func tearDown() { memory.deallocate() }

  private let guestRAM: UInt64 = 4 << 20
  private let host: UInt64 = 0x4000_0000

  private func check<Format: WriteTrackableFormat>(_: Format.Type) throws {
    var builder = try PageTableBuilder<Format, FakePhysicalMemory>(
      memory: memory, frames: &frames)
    try builder.map(
      virtual: 0, physical: host, length: guestRAM, permissions: [.read, .write, .execute, .user],
      largestPage: .size2M, frames: &frames)
    XCTAssertEqual(builder.statistics().pages2M, 2)
    let before = (0..<UInt64(1024)).map { builder.translate($0 * 4096)! }

    try builder.protectForTracking(virtual: 0, length: guestRAM, frames: &frames)
    let stats = builder.statistics()
    XCTAssertEqual(stats.pages2M, 0)
    XCTAssertEqual(stats.pages4K, 1024)
    for page in 0..<UInt64(1024) {
      let hit = try XCTUnwrap(builder.translate(page * 4096 + 0x123))
      XCTAssertEqual(hit.physical, host + page * 4096 + 0x123)
      XCTAssertEqual(hit.size, .size4K)
      XCTAssertFalse(hit.permissions.contains(.write), "page \(page)")
      XCTAssertTrue(hit.permissions.contains(.read))
      XCTAssertEqual(
        hit.permissions.subtracting(.write), before[Int(page)].permissions.subtracting(.write))
    }

    XCTAssertTrue(builder.allowWrite(0x1F_F000))
    XCTAssertEqual(builder.isWritable(0x1F_F000), true)
    XCTAssertEqual(builder.isWritable(0x20_0000), false)
    XCTAssertTrue(builder.writeProtect(0x1F_F000))
    XCTAssertEqual(builder.isWritable(0x1F_F000), false)
    XCTAssertFalse(builder.allowWrite(guestRAM), "beyond RAM: nothing to give back")

    builder.allowWrites(virtual: 0, length: guestRAM)
    for page in 0..<UInt64(1024) {
      XCTAssertEqual(builder.translate(page * 4096)?.permissions, before[Int(page)].permissions)
    }
  }

  func testNestedPagingSplitsProtectsAndRestores() throws { try check(NestedPagingFormat.self) }

  func testEPTSplitsProtectsAndRestores() throws { try check(ExtendedPageTableFormat.self) }

  func testEPTChildKeepsMemoryTypeAndDropsLargeBitOn4K() {
    let large = ExtendedPageTableFormat.leafEntry(
      physical: 0x4000_0000, size: .size2M, permissions: [.read, .write], memoryType: .writeBack)
    let child = ExtendedPageTableFormat.childEntry(of: large, size: .size2M, index: 3)
    XCTAssertEqual(child & 0x80, 0)
    XCTAssertEqual(ExtendedPageTableFormat.memoryType(of: child), .writeBack)
    XCTAssertEqual(ExtendedPageTableFormat.address(of: child), 0x4000_3000)
  }

  func testRunningOutOfFramesThrowsAndKeepsTranslations() throws {
    var limited = FakeFrameSource(memory: memory, limit: 4)
    var builder = try PageTableBuilder<NestedPagingFormat, FakePhysicalMemory>(
      memory: memory, frames: &limited)
    try builder.map(
      virtual: 0, physical: host, length: guestRAM, permissions: [.read, .write],
      largestPage: .size2M, frames: &limited)
    XCTAssertThrowsError(
      try builder.protectForTracking(virtual: 0, length: guestRAM, frames: &limited))
    builder.allowWrites(virtual: 0, length: guestRAM)
    for page in stride(from: UInt64(0), to: guestRAM, by: 4096) {
      XCTAssertEqual(builder.translate(page)?.physical, host + page)
      XCTAssertEqual(builder.isWritable(page), true)
    }
  }
}
