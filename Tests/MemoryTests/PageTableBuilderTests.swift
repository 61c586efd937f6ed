import XCTest

@testable import Memory

final class PageTableBuilderTests: XCTestCase {
  private var memory: FakePhysicalMemory!
  private var frames: FakeFrameSource!

  override func setUp() {
    memory = FakePhysicalMemory()
    frames = FakeFrameSource(memory: memory)
  }

  override func tearDown() { memory.deallocate() }

  private func makeBuilder<Format: PageTableFormat>(_: Format.Type) throws
    -> PageTableBuilder<Format, FakePhysicalMemory>
  {
    try PageTableBuilder<Format, FakePhysicalMemory>(memory: memory, frames: &frames)
  }

  private let mib: UInt64 = 1 << 20

  func testPicksLargestPagesAlignmentAllows() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    try builder.map(
      virtual: 0, physical: 0x4000_0000, length: 6 * mib + 0x2000, permissions: [.read, .write],
      frames: &frames)
    let stats = builder.statistics()
    XCTAssertEqual(stats.pages2M, 3)
    XCTAssertEqual(stats.pages4K, 2)
    XCTAssertEqual(stats.pages1G, 0)
    XCTAssertEqual(stats.tables, 4)  // PML4, PDPT, PD, one PT.
    XCTAssertEqual(frames.handedOut, 4)
    XCTAssertEqual(builder.translate(0x40_0000 + 0x1234)?.size, .size2M)
    XCTAssertEqual(builder.translate(6 * mib + 0x1000)?.physical, 0x4000_0000 + 6 * mib + 0x1000)
    XCTAssertNil(builder.translate(6 * mib + 0x2000))
  }

  func testMisalignedPhysicalFallsBackToSmallPages() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    try builder.map(
      virtual: 0x20_0000, physical: 0x20_1000, length: 0x20_0000, permissions: .read,
      frames: &frames)
    XCTAssertEqual(builder.statistics().pages4K, 512)
    XCTAssertEqual(builder.statistics().pages2M, 0)
  }

  func testMaps1GPagesOnlyWhenAllowed() throws {
    var builder = try makeBuilder(NestedPagingFormat.self)
    try builder.map(
      virtual: 0x4000_0000, physical: 0x8000_0000, length: 0x4000_0000 + 0x20_0000,
      permissions: [.read, .write, .execute], largestPage: .size1G, frames: &frames)
    let stats = builder.statistics()
    XCTAssertEqual(stats.pages1G, 1)
    XCTAssertEqual(stats.pages2M, 1)
    XCTAssertEqual(stats.tables, 3)
    let hit = try XCTUnwrap(builder.translate(0x4123_4567))
    XCTAssertEqual(hit.physical, 0x8123_4567)
    XCTAssertEqual(hit.size, .size1G)

    var limited = try makeBuilder(NestedPagingFormat.self)
    try limited.map(
      virtual: 0, physical: 0, length: 0x4000_0000, permissions: .read, frames: &frames)
    XCTAssertEqual(limited.statistics().pages2M, 512)
    XCTAssertEqual(limited.statistics().pages1G, 0)
  }

  func testHostEntryBits() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    try builder.map(
      virtual: 0x20_0000, physical: 0x60_0000, length: 0x20_0000, permissions: [.read, .write],
      frames: &frames)
    try builder.map(
      virtual: 0x1000, physical: 0xFEE0_0000, length: 0x1000,
      permissions: [.read, .write, .execute, .user], memoryType: .uncacheable, frames: &frames)
    let pml4 = memory.pointer(to: builder.root).load(as: UInt64.self)
    XCTAssertEqual(pml4 & 0xFFF, 0x7)  // P | RW | U/S: the leaf decides.
    XCTAssertEqual(pml4 >> 63, 0)

    let pdpt = memory.pointer(to: pml4 & 0xF_FFFF_FFFF_F000).load(as: UInt64.self)
    let pd = memory.pointer(to: pdpt & 0xF_FFFF_FFFF_F000)
    let large = pd.load(fromByteOffset: 8, as: UInt64.self)
    XCTAssertEqual(large, 0x60_0000 | 0x1 | 0x2 | 0x80 | 1 << 63)
    let pt = pd.load(as: UInt64.self) & 0xF_FFFF_FFFF_F000
    let small = memory.pointer(to: pt).load(fromByteOffset: 8, as: UInt64.self)
    XCTAssertEqual(small, 0xFEE0_0000 | 0x1 | 0x2 | 0x4 | 0x8 | 0x10)

    XCTAssertEqual(
      HostPagingFormat.leafEntry(
        physical: 0x3000, size: .size4K, permissions: [.read, .execute], memoryType: .writeThrough),
      0x3000 | 0x1 | 0x8)
    XCTAssertEqual(HostPagingFormat.permissions(of: large), [.read, .write])
    XCTAssertEqual(HostPagingFormat.permissions(of: small), [.read, .write, .execute, .user])
    XCTAssertTrue(HostPagingFormat.isLeaf(large, level: 2))
    XCTAssertFalse(HostPagingFormat.isLeaf(pml4, level: 4))
  }

  func testNestedEntriesAlwaysCarryUserBit() throws {
    XCTAssertEqual(NestedPagingFormat.tableEntry(physical: 0x5000), 0x5007)
    let leaf = NestedPagingFormat.leafEntry(
      physical: 0x20_0000, size: .size2M, permissions: [.read, .execute], memoryType: .writeBack)
    XCTAssertEqual(leaf, 0x20_0000 | 0x1 | 0x4 | 0x80)
    XCTAssertTrue(NestedPagingFormat.permissions(of: leaf).contains(.user))

    var builder = try makeBuilder(NestedPagingFormat.self)
    try builder.map(
      virtual: 0, physical: 0x1000, length: 0x1000, permissions: .read, frames: &frames)
    XCTAssertEqual(builder.translate(0x10)?.permissions, [.read, .user])
  }

  func testExtendedPageTableEntryBits() throws {
    XCTAssertEqual(ExtendedPageTableFormat.tableEntry(physical: 0x7000), 0x7007)
    let ram = ExtendedPageTableFormat.leafEntry(
      physical: 0x20_0000, size: .size2M, permissions: [.read, .write, .execute],
      memoryType: .writeBack)
    XCTAssertEqual(ram, 0x20_0000 | 0x7 | 6 << 3 | 0x80)
    XCTAssertEqual(ExtendedPageTableFormat.memoryType(of: ram), .writeBack)
    let mmio = ExtendedPageTableFormat.leafEntry(
      physical: 0xFEC0_0000, size: .size4K, permissions: [.read, .write], memoryType: .uncacheable)
    XCTAssertEqual(mmio, 0xFEC0_0000 | 0x3)
    let writeOnly = ExtendedPageTableFormat.leafEntry(
      physical: 0x1000, size: .size4K, permissions: .write, memoryType: .writeCombining)
    XCTAssertEqual(writeOnly, 0x1000 | 0x3 | 1 << 3)  // Write implies read (SDM §29.3.3.1).
    let executeOnly = ExtendedPageTableFormat.leafEntry(
      physical: 0x1000, size: .size4K, permissions: .execute, memoryType: .writeBack)
    XCTAssertTrue(ExtendedPageTableFormat.isPresent(executeOnly))
    XCTAssertEqual(ExtendedPageTableFormat.permissions(of: executeOnly), .execute)
    XCTAssertFalse(ExtendedPageTableFormat.isPresent(0x1000 | 6 << 3))

    var builder = try makeBuilder(ExtendedPageTableFormat.self)
    try builder.map(
      virtual: 0xFEC0_0000, physical: 0xFEC0_0000, length: 0x1000, permissions: [.read, .write],
      memoryType: .uncacheable, frames: &frames)
    let hit = try XCTUnwrap(builder.translate(0xFEC0_0020))
    XCTAssertEqual(hit.physical, 0xFEC0_0020)
    XCTAssertEqual(hit.permissions, [.read, .write])
    XCTAssertEqual(hit.size, .size4K)
  }

  func testTranslateRoundTripsEveryPage() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    try builder.map(
      virtual: 0x1F_E000, physical: 0x3F_E000, length: 0x20_4000, permissions: [.read, .execute],
      frames: &frames)
    var offset: UInt64 = 0
    while offset < 0x20_4000 {
      let hit = try XCTUnwrap(builder.translate(0x1F_E000 + offset + 0x18))
      XCTAssertEqual(hit.physical, 0x3F_E000 + offset + 0x18)
      XCTAssertEqual(hit.permissions, [.read, .execute])
      offset += 0x1000
    }
    XCTAssertEqual(builder.statistics().pages2M, 1)
    XCTAssertEqual(builder.statistics().pages4K, 4)
  }

  func testHigherHalfAddresses() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    let kernelBase: UInt64 = 0xFFFF_FFFF_8000_0000
    try builder.map(
      virtual: kernelBase, physical: 0x20_0000, length: 0x40_0000, permissions: [.read, .execute],
      frames: &frames)
    XCTAssertEqual(builder.translate(kernelBase + 0x30_0010)?.physical, 0x50_0010)
    XCTAssertNil(builder.translate(0x20_0000))
    XCTAssertThrowsError(
      try builder.map(
        virtual: kernelBase + 0x20_0000, physical: 0, length: 0x1000, permissions: .read,
        frames: &frames)
    ) { error in
      XCTAssertEqual(error as? PageTableError, .alreadyMapped(kernelBase + 0x20_0000))
    }
  }

  func testRejectsMisalignedInput() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    let cases: [(UInt64, UInt64, UInt64)] = [
      (0x1001, 0x1000, 0x1000), (0x1000, 0x1800, 0x1000), (0x1000, 0x1000, 0x800),
      (0xFFFF_FFFF_FFFF_F000, 0, 0x2000),
    ]
    for (virtual, physical, length) in cases {
      XCTAssertThrowsError(
        try builder.map(
          virtual: virtual, physical: physical, length: length, permissions: .read,
          frames: &frames)
      ) { error in XCTAssertEqual(error as? PageTableError, .misaligned) }
    }
    XCTAssertEqual(builder.statistics().tables, 1)
  }

  func testDetectsAlreadyMappedWithoutPartialChanges() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    try builder.map(
      virtual: 0x20_0000, physical: 0x20_0000, length: 0x20_0000, permissions: .read,
      frames: &frames)
    XCTAssertThrowsError(
      try builder.map(
        virtual: 0x20_1000, physical: 0, length: 0x1000, permissions: .read, frames: &frames)
    ) { error in XCTAssertEqual(error as? PageTableError, .alreadyMapped(0x20_1000)) }
    XCTAssertThrowsError(
      try builder.map(
        virtual: 0x1F_E000, physical: 0, length: 0x4000, permissions: .read, frames: &frames)
    ) { error in XCTAssertEqual(error as? PageTableError, .alreadyMapped(0x20_0000)) }
    XCTAssertNil(builder.translate(0x1F_E000))  // Nothing before the conflict was written.
    XCTAssertEqual(builder.translate(0x20_1000)?.physical, 0x20_1000)
  }

  func testUnmapClearsPagesAndRejectsPartialLargePages() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    try builder.map(
      virtual: 0, physical: 0, length: 0x40_4000, permissions: .read, frames: &frames)
    XCTAssertThrowsError(try builder.unmap(virtual: 0x20_0000, length: 0x1000)) { error in
      XCTAssertEqual(error as? PageTableError, .misaligned)
    }
    XCTAssertThrowsError(try builder.unmap(virtual: 0x40_0000, length: 0x8000)) { error in
      XCTAssertEqual(error as? PageTableError, .notMapped(0x40_4000))
    }
    XCTAssertNotNil(builder.translate(0x40_0000))  // The failed unmap changed nothing.

    try builder.unmap(virtual: 0x40_1000, length: 0x2000)
    XCTAssertNil(builder.translate(0x40_1000))
    XCTAssertNil(builder.translate(0x40_2000))
    XCTAssertNotNil(builder.translate(0x40_3000))
    try builder.unmap(virtual: 0x20_0000, length: 0x20_0000)
    XCTAssertNil(builder.translate(0x20_0000))
    XCTAssertEqual(builder.statistics().pages2M, 1)
    XCTAssertEqual(builder.statistics().pages4K, 2)
  }

  func testRemapAfterUnmapReusesExistingTable() throws {
    var builder = try makeBuilder(ExtendedPageTableFormat.self)
    try builder.map(
      virtual: 0x40_0000, physical: 0, length: 0x1000, permissions: .read, frames: &frames)
    try builder.unmap(virtual: 0x40_0000, length: 0x1000)
    let framesBefore = frames.handedOut
    try builder.map(
      virtual: 0x40_0000, physical: 0x40_0000, length: 0x20_0000, permissions: .read,
      frames: &frames)
    XCTAssertEqual(frames.handedOut, framesBefore)
    XCTAssertEqual(builder.statistics().pages4K, 512)
    XCTAssertEqual(builder.translate(0x5F_F008)?.physical, 0x5F_F008)
  }

  func testOutOfMemory() throws {
    var limited = FakeFrameSource(memory: memory, limit: 2)
    var builder = try PageTableBuilder<HostPagingFormat, FakePhysicalMemory>(
      memory: memory, frames: &limited)
    XCTAssertThrowsError(
      try builder.map(virtual: 0, physical: 0, length: 0x1000, permissions: .read, frames: &limited)
    ) { error in XCTAssertEqual(error as? PageTableError, .outOfMemory) }
    var none = FakeFrameSource(memory: memory, limit: 0)
    XCTAssertThrowsError(
      try PageTableBuilder<HostPagingFormat, FakePhysicalMemory>(memory: memory, frames: &none))
  }

  func testExistingRootSeesEarlierMappings() throws {
    var builder = try makeBuilder(HostPagingFormat.self)
    try builder.map(
      virtual: 0x5000, physical: 0x9000, length: 0x1000, permissions: .read, frames: &frames)
    let reopened = PageTableBuilder<HostPagingFormat, FakePhysicalMemory>(
      memory: memory, existingRoot: builder.root)
    XCTAssertEqual(reopened.translate(0x5ABC)?.physical, 0x9ABC)
  }
}
