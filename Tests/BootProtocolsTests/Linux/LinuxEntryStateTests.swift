import XCTest

@testable import BootProtocols

/// The 64-bit entry state, boot GDT and identity map (boot.rst, "64-bit Boot Protocol").
final class LinuxEntryStateTests: XCTestCase {
  func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
  }

  func testEntryState() throws {
    let layout = try LinuxGuestLayout(
      ramSize: 64 << 20, image: BzImageFixture().parse(), initrdSize: 0, commandLine: [])
    let state = LinuxEntryState(layout: layout)
    XCTAssertEqual(state.rip, 0x100_0200)
    XCTAssertEqual(state.rsi, 0x7000)
    XCTAssertEqual(state.rflags, 0x2)
    XCTAssertEqual(state.cr0, 0x8000_0031)
    XCTAssertEqual(state.cr3, 0x9000)
    XCTAssertEqual(state.cr4, 0x20)
    XCTAssertEqual(state.efer, 0x500)
    XCTAssertEqual(state.gdtBase, 0x8000)
    XCTAssertEqual(state.gdtLimit, 31)
    XCTAssertEqual(
      state.code, LinuxSegment(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, accessRights: 0xA09B))
    XCTAssertEqual(
      state.data, LinuxSegment(selector: 0x18, base: 0, limit: 0xFFFF_FFFF, accessRights: 0xC093))
    XCTAssertEqual(state.code.svmAttributes, 0xA9B)
    XCTAssertEqual(state.data.svmAttributes, 0xC93)
  }

  func testGDTHasBootSelectorsAtTheirIndexes() {
    let gdt = LinuxBootGDT.bytes
    XCTAssertEqual(gdt.count, Int(LinuxBootGDT.limit) + 1)
    XCTAssertEqual(u64(gdt, 0), 0)
    XCTAssertEqual(u64(gdt, 8), 0)
    let code = u64(gdt, Int(LinuxBootGDT.codeSelector))
    let data = u64(gdt, Int(LinuxBootGDT.dataSelector))
    XCTAssertEqual(code >> 53 & 1, 1, "L")
    XCTAssertEqual(code >> 54 & 1, 0, "D must be 0 with L")
    XCTAssertEqual(code >> 40 & 0x9A, 0x9A, "present, code, readable")
    XCTAssertEqual(data >> 40 & 0x92, 0x92, "present, data, writable")
    XCTAssertEqual(data & 0xFFFF | (data >> 48 & 0xF) << 16, 0xF_FFFF, "4 GiB limit")
  }

  func testIdentityMapCoversFourGiBWithTwoMiBPages() {
    let base = LinuxGuestLayout.pageTablesAddress
    let tables = LinuxIdentityMap.bytes(at: base)
    XCTAssertEqual(tables.count, 6 * 4096)
    XCTAssertEqual(u64(tables, 0), 0xA003)
    XCTAssertEqual(u64(tables, 8), 0, "one PML4 entry")
    for gib in 0..<4 {
      XCTAssertEqual(u64(tables, 4096 + 8 * gib), 0xB003 + UInt64(gib) * 0x1000)
    }
    XCTAssertEqual(u64(tables, 4096 + 32), 0, "four PDPT entries")
    XCTAssertEqual(u64(tables, 2 * 4096), 0x83)
    XCTAssertEqual(u64(tables, 2 * 4096 + 8), 0x20_0083)
    XCTAssertEqual(u64(tables, 6 * 4096 - 8), 0xFFE0_0083)
    // The tables end before anything else in low memory is placed.
    XCTAssertLessThanOrEqual(base + UInt64(tables.count), LinuxGuestLayout.commandLineAddress)
    XCTAssertGreaterThanOrEqual(base, LinuxGuestLayout.gdtAddress + 32)
  }
}
