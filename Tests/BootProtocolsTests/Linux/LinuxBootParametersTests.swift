import XCTest

@testable import BootProtocols

/// The zero page (Documentation/arch/x86/zero-page.rst) and its e820 map.
final class LinuxBootParametersTests: XCTestCase {
  static let mib: UInt64 = 1 << 20
  static let devices = [
    PhysicalRange(start: 0xFEE0_0000, end: 0xFEE0_1000),  // local APIC
    PhysicalRange(start: 0xFEC0_0000, end: 0xFEC0_1000),  // I/O APIC
  ]

  func u16(_ page: [UInt8], _ offset: Int) -> UInt16 {
    UInt16(page[offset]) | UInt16(page[offset + 1]) << 8
  }
  func u32(_ page: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(page[offset + $1]) << (8 * $1) }
  }
  func u64(_ page: [UInt8], _ offset: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(page[offset + $1]) << (8 * $1) }
  }

  func build(ram: UInt64, initrd: UInt64, devices: [PhysicalRange] = devices) throws -> (
    LinuxKernelImage, LinuxGuestLayout, [UInt8]
  ) {
    let image = try BzImageFixture().parse()
    let layout = try LinuxGuestLayout(
      ramSize: ram, image: image, initrdSize: initrd, commandLine: Array("quiet".utf8))
    let page = try LinuxBootParameters.build(
      image: image, layout: layout, acpiRSDPAddress: 0xE_0000, devices: devices)
    return (image, layout, page)
  }

  func testZeroPageFields() throws {
    let (image, layout, page) = try build(ram: 128 * Self.mib, initrd: 0x5000)
    XCTAssertEqual(page.count, 4096)
    // Setup header copied 0x1F1..<0x26C, then the loader's fields written over it.
    XCTAssertEqual(Array(page[0x202..<0x206]), Array("HdrS".utf8))
    XCTAssertEqual(u16(page, 0x206), 0x020F)
    XCTAssertEqual(u64(page, 0x258), image.preferredAddress)
    XCTAssertEqual(u32(page, 0x260), image.initSize)
    XCTAssertEqual(page[0x211], 0x01)  // loadflags kept
    XCTAssertTrue(page[0x26C...].prefix(0x2D0 - 0x26C).allSatisfy { $0 == 0 })
    XCTAssertEqual(page[0x1EF], 0)  // sentinel
    XCTAssertEqual(page[0x210], 0xFF)  // type_of_loader
    XCTAssertEqual(u16(page, 0x1FA), 0xFFFF)  // vid_mode
    XCTAssertEqual(u32(page, 0x214), 0x100_0000)  // code32_start
    XCTAssertEqual(u32(page, 0x23C), 0)  // hardware_subarch
    XCTAssertEqual(u32(page, 0x228), 0x2_0000)  // cmd_line_ptr
    XCTAssertEqual(u32(page, 0x0C8), 0)  // ext_cmd_line_ptr
    XCTAssertEqual(u32(page, 0x218), UInt32(layout.initrd!.start))
    XCTAssertEqual(u32(page, 0x218), 0x7FF_B000)
    XCTAssertEqual(u32(page, 0x21C), 0x5000)
    XCTAssertEqual(u32(page, 0x0C0), 0)
    XCTAssertEqual(u32(page, 0x0C4), 0)
    XCTAssertEqual(u64(page, 0x070), 0xE_0000)  // acpi_rsdp_addr
  }

  func testE820DescribesRAMAndDevices() throws {
    let (_, _, page) = try build(ram: 128 * Self.mib, initrd: 0)
    let expected: [(UInt64, UInt64, UInt32)] = [
      (0, 0x9_FC00, 1),
      (0x9_FC00, 0x6_0400, 2),
      (0x10_0000, 127 * Self.mib, 1),
      (0xFEC0_0000, 0x1000, 2),
      (0xFEE0_0000, 0x1000, 2),
    ]
    XCTAssertEqual(page[0x1E8], UInt8(expected.count))
    for (index, entry) in expected.enumerated() {
      let offset = 0x2D0 + 20 * index
      XCTAssertEqual(u64(page, offset), entry.0, "entry \(index) address")
      XCTAssertEqual(u64(page, offset + 8), entry.1, "entry \(index) size")
      XCTAssertEqual(u32(page, offset + 16), entry.2, "entry \(index) type")
    }
    XCTAssertTrue(page[(0x2D0 + 20 * expected.count)...].allSatisfy { $0 == 0 })
    // No initrd: ramdisk fields stay 0.
    XCTAssertEqual(u32(page, 0x218), 0)
    XCTAssertEqual(u32(page, 0x21C), 0)
  }

  func testInitrdAbove4GUsesExtendedFields() throws {
    let (_, layout, page) = try build(ram: 0x1_4000_0000, initrd: 0x20_0000, devices: [])
    XCTAssertEqual(layout.initrd?.start, 0x1_3FE0_0000)
    XCTAssertEqual(u32(page, 0x218), 0x3FE0_0000)
    XCTAssertEqual(u32(page, 0x0C0), 0x1)
    XCTAssertEqual(u32(page, 0x21C), 0x20_0000)
    XCTAssertEqual(u32(page, 0x0C4), 0)
  }

  func testE820Rejections() {
    XCTAssertThrowsError(
      try LinuxE820Table.entries(
        ramSize: 0x1_0000_0000, devices: [PhysicalRange(start: 0xFEC0_0000, end: 0xFEC0_1000)])
    ) { XCTAssertEqual($0 as? LinuxLayoutError, .deviceOverlapsRAM) }
    XCTAssertThrowsError(
      try LinuxE820Table.entries(
        ramSize: 64 << 20, devices: [PhysicalRange(start: 0xA_0000, end: 0xC_0000)])
    ) { XCTAssertEqual($0 as? LinuxLayoutError, .deviceOverlapsRAM) }
    let many = (0..<126).map {
      PhysicalRange(start: 0xF000_0000 + $0 * 0x1000, end: 0xF000_0000 + $0 * 0x1000 + 0x1000)
    }
    XCTAssertThrowsError(try LinuxE820Table.entries(ramSize: 64 << 20, devices: many)) {
      XCTAssertEqual($0 as? LinuxLayoutError, .tooManyMemoryRegions)
    }
    XCTAssertEqual(
      try LinuxE820Table.entries(ramSize: 64 << 20, devices: Array(many.prefix(125))).count, 128)
    XCTAssertThrowsError(try LinuxE820Table.entries(ramSize: 0x8_0000, devices: [])) {
      XCTAssertEqual($0 as? LinuxLayoutError, .ramTooSmall)
    }
  }

  func testExactlyOneMiBOfRAMHasNoHighEntry() throws {
    let entries = try LinuxE820Table.entries(ramSize: 0x10_0000, devices: [])
    XCTAssertEqual(entries.map(\.range.end), [0x9_FC00, 0x10_0000])
  }
}
