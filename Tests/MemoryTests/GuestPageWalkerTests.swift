import XCTest

@testable import Memory

final class GuestPageWalkerTests: XCTestCase {
  /// Sparse guest memory holding only the entries a test writes.
  private var entries: [UInt64: UInt64] = [:]
  private func read(_ address: UInt64) -> UInt64? { entries[address] }

  private func translate(_ linear: UInt64, cr3: UInt64, mode: GuestPagingMode) -> UInt64? {
    GuestPageWalker.translate(linear: linear, cr3: cr3, mode: mode, read: read)
  }

  func testNoPagingIsIdentity() {
    XCTAssertEqual(translate(0x1234_5678, cr3: 0, mode: .none), 0x1234_5678)
  }

  func testProtected32With4KAnd4MPages() {
    // PDE 0 -> table at 0x2000; PTE 5 -> 0x0ABC_D000. PDE 1 is a 4 MiB page.
    entries[0x1000] = 0x2000 | 0x7
    entries[0x2000 + 5 * 4] = 0x0ABC_D000 | 0x3
    entries[0x1000 + 4] = 0x0C00_0000 | 0x83 | (0x12 << 13)  // PSE-36 bits 39:32 = 0x12.
    let pse = GuestPagingMode.protected32(pageSizeExtensions: true)
    XCTAssertEqual(translate(0x5123, cr3: 0x1000, mode: pse), 0x0ABC_D123)
    XCTAssertEqual(translate(0x0045_6789, cr3: 0x1000, mode: pse), 0x12_0C05_6789)
    XCTAssertNil(translate(0x0080_0000, cr3: 0x1000, mode: pse))  // PDE 2 not present.
    XCTAssertNil(translate(0x6000, cr3: 0x1000, mode: pse))  // PTE 6 not present.
  }

  func testProtected32WithoutPSEIgnoresPageSizeBit() {
    entries[0x1000] = 0x3000 | 0x83
    entries[0x3000 + 1 * 4] = 0x7000 | 0x1
    let mode = GuestPagingMode.protected32(pageSizeExtensions: false)
    XCTAssertEqual(translate(0x1FFF, cr3: 0x1000, mode: mode), 0x7FFF)
  }

  func testPAE() {
    // CR3 is 32-byte aligned in PAE mode.
    entries[0x1020 + 3 * 8] = 0x4000 | 0x1
    entries[0x4000 + 0 * 8] = 0x8020_0000 | 0x83  // 2 MiB page at 0xC000_0000.
    entries[0x4000 + 1 * 8] = 0x5000 | 0x3
    entries[0x5000 + 2 * 8] = 0x1_2345_6000 | 0x1
    XCTAssertEqual(translate(0xC001_2345, cr3: 0x1020, mode: .pae), 0x8021_2345)
    XCTAssertEqual(translate(0xC020_2ABC, cr3: 0x1020, mode: .pae), 0x1_2345_6ABC)
    XCTAssertNil(translate(0x0000_1000, cr3: 0x1020, mode: .pae))
  }

  func testLongModeMatchesPageTableBuilder() throws {
    let memory = FakePhysicalMemory()
    defer { memory.deallocate() }
    var frames = FakeFrameSource(memory: memory)
    var builder = try PageTableBuilder<HostPagingFormat, FakePhysicalMemory>(
      memory: memory, frames: &frames)
    try builder.map(
      virtual: 0x4000_0000, physical: 0x1_0000_0000, length: 0x4000_0000, permissions: .read,
      largestPage: .size1G, frames: &frames)
    try builder.map(
      virtual: 0xFFFF_8000_0020_0000, physical: 0x60_0000, length: 0x20_3000, permissions: .read,
      frames: &frames)
    let samples: [UInt64] = [
      0x4000_0000, 0x7FFF_FFF8, 0xFFFF_8000_0020_0010, 0xFFFF_8000_0040_2FFF, 0x1000,
      0xFFFF_8000_0040_3000,
    ]
    for linear in samples {
      let walked = GuestPageWalker.translate(
        linear: linear, cr3: builder.root | 0x18, mode: .longMode4Level, read: memory.readEntry)
      XCTAssertEqual(walked, builder.translate(linear)?.physical, "linear \(linear)")
    }
    XCTAssertEqual(
      GuestPageWalker.translate(
        linear: 0x4000_1234, cr3: builder.root, mode: .longMode4Level, read: memory.readEntry),
      0x1_0000_1234)
  }

  func testUnreadableTableFailsTranslation() {
    XCTAssertNil(translate(0x1000, cr3: 0x9_0000, mode: .longMode4Level))
  }

  // MARK: Access rights (SDM Vol 3A §4.6.1: U/S and R/W ANDed over the levels)

  private func rights(_ linear: UInt64, cr3: UInt64, mode: GuestPagingMode) -> GuestPageRights? {
    GuestPageWalker.translateWithRights(linear: linear, cr3: cr3, mode: mode, read: read)?.rights
  }

  func testProtected32RightsAreTheDirectoryAndTableFlagsAnded() {
    let mode = GuestPagingMode.protected32(pageSizeExtensions: true)
    entries[0x1000] = 0x2000 | 0x7  // PDE: P | R/W | U/S
    entries[0x2000] = 0x5000 | 0x7  // PTE 0: user, writable
    entries[0x2000 + 4] = 0x6000 | 0x1  // PTE 1: supervisor, read-only
    entries[0x1000 + 4] = 0x3000 | 0x3  // PDE 1: supervisor, writable
    entries[0x3000] = 0x7000 | 0x7  // PTE under it: user, writable
    entries[0x1000 + 8] = 0x0C00_0000 | 0x85  // PDE 2: 4 MiB user read-only page
    XCTAssertEqual(
      rights(0x0000, cr3: 0x1000, mode: mode), GuestPageRights(user: true, writable: true))
    XCTAssertEqual(
      rights(0x1000, cr3: 0x1000, mode: mode), GuestPageRights(user: false, writable: false))
    XCTAssertEqual(
      rights(0x40_0000, cr3: 0x1000, mode: mode), GuestPageRights(user: false, writable: true),
      "a supervisor directory entry makes the whole 4 MiB supervisor")
    XCTAssertEqual(
      rights(0x80_0000, cr3: 0x1000, mode: mode), GuestPageRights(user: true, writable: false))
    XCTAssertEqual(
      GuestPageWalker.translateWithRights(linear: 0x1234, cr3: 0x1000, mode: mode, read: read)?
        .physical, 0x6234)
  }

  func testPAEPageDirectoryPointerEntriesRestrictNothing() {
    entries[0x1020] = 0x4000 | 0x1  // PDPTE: P only (bits 2:1 are reserved there)
    entries[0x4000] = 0x5000 | 0x7
    entries[0x5000] = 0x9000 | 0x7
    entries[0x4000 + 8] = 0x8000_0000 | 0x83  // 2 MiB supervisor writable page
    XCTAssertEqual(
      rights(0x0000, cr3: 0x1020, mode: .pae), GuestPageRights(user: true, writable: true))
    XCTAssertEqual(
      rights(0x20_0000, cr3: 0x1020, mode: .pae), GuestPageRights(user: false, writable: true))
  }

  func testLongModeRightsIncludeEveryLevel() {
    // PML4E user read-only above an all-permissive PDPTE, PDE and PTE.
    entries[0x1000] = 0x2000 | 0x5
    entries[0x2000] = 0x3000 | 0x7
    entries[0x3000] = 0x4000 | 0x7
    entries[0x4000] = 0x8000 | 0x7
    XCTAssertEqual(
      rights(0x0123, cr3: 0x1000, mode: .longMode4Level),
      GuestPageRights(user: true, writable: false))
    // PML4E 2 supervisor above a user 1 GiB leaf: the leaf's U/S = 1 does not help.
    entries[0x1000 + 16] = 0x7000 | 0x3
    entries[0x7000] = 0x4000_0000 | 0x87
    // PML4E 1 and a 1 GiB leaf, both user and writable.
    entries[0x1000 + 8] = 0x6000 | 0x7
    entries[0x6000 + 8] = 0x8000_0000 | 0x87
    XCTAssertEqual(
      rights(0x100_0000_0000, cr3: 0x1000, mode: .longMode4Level),
      GuestPageRights(user: false, writable: true))
    XCTAssertEqual(
      rights(0x80_4000_0000, cr3: 0x1000, mode: .longMode4Level),
      GuestPageRights(user: true, writable: true))
  }

  func testNoPagingGrantsEverything() {
    XCTAssertEqual(rights(0x1234, cr3: 0, mode: .none), .unrestricted)
  }
}
