import XCTest

@testable import BootProtocols

final class Multiboot2ParseTests: XCTestCase {
  func testParsesCompleteBlock() throws {
    var fixture = Multiboot2Fixture()
    fixture.appendString(type: 1, "console=serial debug")
    fixture.appendString(type: 2, "GRUB 2.12")
    fixture.appendModule(start: 0x20_0000, end: 0x20_1234, commandLine: "guest.elf mem=64M")
    fixture.appendModule(start: 0x30_0000, end: 0x30_0000, commandLine: "")
    fixture.appendMemoryMap([
      .init(base: 0x10_0000, length: 0x7EF_0000, type: 1),
      .init(base: 0, length: 0x9_FC00, type: 1),
      .init(base: 0xF_0000, length: 0x1_0000, type: 2),
      .init(base: 0x7FF_0000, length: 0x1_0000, type: 3),
      .init(base: 0xFEC0_0000, length: 0x1000, type: 4),
      .init(base: 0x1_0000_0000, length: 0x1000, type: 5),
      .init(base: 0x2_0000_0000, length: 0x1000, type: 20),
    ])
    fixture.appendEnd()
    let block = fixture.build()
    let info = try Multiboot2Fixture.parse(block, at: 0x8_0000)

    XCTAssertEqual(info.totalSize, UInt32(block.count))
    XCTAssertEqual(
      info.infoRange, PhysicalRange(start: 0x8_0000, end: 0x8_0000 + UInt64(block.count)))
    XCTAssertEqual(info.commandLine, Array("console=serial debug".utf8))
    XCTAssertEqual(info.bootLoaderName, Array("GRUB 2.12".utf8))
    XCTAssertEqual(
      info.modules,
      [
        BootModule(
          range: PhysicalRange(start: 0x20_0000, end: 0x20_1234),
          commandLine: Array("guest.elf mem=64M".utf8)),
        BootModule(range: PhysicalRange(start: 0x30_0000, end: 0x30_0000), commandLine: []),
      ])
    XCTAssertEqual(
      info.memoryMap,
      [
        MemoryRegion(range: PhysicalRange(start: 0, end: 0x9_FC00), kind: .usable),
        MemoryRegion(range: PhysicalRange(start: 0xF_0000, end: 0x10_0000), kind: .reserved),
        MemoryRegion(range: PhysicalRange(start: 0x10_0000, end: 0x7FF_0000), kind: .usable),
        MemoryRegion(
          range: PhysicalRange(start: 0x7FF_0000, end: 0x800_0000), kind: .acpiReclaimable),
        MemoryRegion(range: PhysicalRange(start: 0xFEC0_0000, end: 0xFEC0_1000), kind: .acpiNVS),
        MemoryRegion(
          range: PhysicalRange(start: 0x1_0000_0000, end: 0x1_0000_1000), kind: .defective),
        MemoryRegion(
          range: PhysicalRange(start: 0x2_0000_0000, end: 0x2_0000_1000), kind: .other(20)),
      ])
    XCTAssertNil(info.rsdp)
  }

  func testParsesRSDPv1AtItsAddressInsideTheBlock() throws {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap(Multiboot2Fixture.simpleMap)
    let tagOffset = UInt64((fixture.bytes.count + 7) & ~7)
    fixture.appendRSDPv1(rsdt: 0x7FE_1234)
    fixture.appendEnd()
    let info = try fixture.parse(at: 0x9000)
    XCTAssertEqual(info.rsdp, .v1(address: 0x9000 + tagOffset + 8, rsdtAddress: 0x7FE_1234))
  }

  func testPrefersRSDPv2OverV1() throws {
    var fixture = Multiboot2Fixture()
    fixture.appendRSDPv1(rsdt: 0x1111)
    let tagOffset = UInt64((fixture.bytes.count + 7) & ~7)
    fixture.appendRSDPv2(xsdt: 0x1_2345_6780)
    fixture.appendMemoryMap(Multiboot2Fixture.simpleMap)
    fixture.appendEnd()
    let info = try fixture.parse(at: 0x1_0000)
    XCTAssertEqual(info.rsdp, .v2(address: 0x1_0000 + tagOffset + 8, xsdtAddress: 0x1_2345_6780))
  }

  func testSkipsUnknownTagsAndAcceptsLargerEntrySize() throws {
    var fixture = Multiboot2Fixture()
    fixture.appendTag(type: 21, body: [1, 2, 3])  // Load base address: not needed.
    fixture.appendMemoryMap(
      [.init(base: 0x1000, length: 0x1000, type: 1)], entrySize: 32)
    fixture.appendEnd()
    let info = try fixture.parse()
    XCTAssertEqual(
      info.memoryMap,
      [MemoryRegion(range: PhysicalRange(start: 0x1000, end: 0x2000), kind: .usable)])
  }

  func testMergesOverlappingEntriesOfTheSameKind() throws {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap([
      .init(base: 0x1000, length: 0x3000, type: 1),
      .init(base: 0x2000, length: 0x4000, type: 1),
    ])
    fixture.appendEnd()
    let info = try fixture.parse()
    XCTAssertEqual(
      info.memoryMap,
      [MemoryRegion(range: PhysicalRange(start: 0x1000, end: 0x6000), kind: .usable)])
  }

  func testStopsAtEndTagEvenWithTrailingBytes() throws {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap(Multiboot2Fixture.simpleMap)
    fixture.appendEnd()
    fixture.appendTag(type: 1, body: [0x41])  // Unterminated, but after the end tag.
    XCTAssertEqual(try fixture.parse().commandLine, [])
  }

  func testErrorMessagesAreDistinct() {
    let errors: [Multiboot2Error] = [
      .truncatedHeader, .memoryMapTruncated(declaredBytes: 1, entrySize: 24), .missingMemoryMap,
    ]
    XCTAssertEqual(
      errors.map { "\($0.message)" },
      [
        "multiboot2 information block is shorter than its header",
        "multiboot2 memory map is truncated",
        "multiboot2 information block has no memory map",
      ])
  }
}
