import XCTest

@testable import BootProtocols

final class MultibootGuestLayoutTests: XCTestCase {
  typealias F = MultibootImageFixture

  func image(_ bytes: [UInt8]) -> MultibootGuestImage {
    try! bytes.withUnsafeBytes { try MultibootGuestImage(parsing: $0) }
  }

  func layout(_ bytes: [UInt8], ram: UInt64 = 16 << 20, modules: [UInt64] = [])
    -> Result<MultibootGuestLayout, MultibootGuestError>
  {
    do throws(MultibootGuestError) {
      return .success(
        try MultibootGuestLayout(
          ramSize: ram, image: image(bytes),
          modules: modules.map { .init(size: $0, string: Array("m".utf8)) }))
    } catch {
      return .failure(error)
    }
  }

  func segmentAt(_ address: UInt32, size: UInt32 = 0x100) -> [UInt8] {
    F.v1Kludge(
      headerAddress: address + 0x40, loadAddress: address, loadEnd: 0, bssEnd: address + size,
      entry: address + 0x80)
  }

  func testModulesArePageAlignedAfterTheKernel() throws {
    let placed = try layout(F.goodV1ELF32(), modules: [0x1234, 10]).get()
    XCTAssertEqual(
      placed.moduleRanges,
      [
        PhysicalRange(start: 0x10_1000, end: 0x10_2234),
        PhysicalRange(start: 0x10_3000, end: 0x10_300A),
      ])
    XCTAssertEqual(placed.lowerMemoryKiB, 639)
    XCTAssertEqual(placed.upperMemoryKiB, 15 * 1024)
    XCTAssertEqual(
      placed.memoryMap.map(\.address), [0, 0x9_FC00, 0x10_0000, 0xFEC0_0000, 0xFEE0_0000])
    XCTAssertEqual(placed.memoryMap[2].size, 15 << 20)
  }

  func testRefusals() {
    XCTAssertEqual(layout(F.goodV1ELF32(), ram: 1 << 20), .failure(.segmentOutsideMemory))
    XCTAssertEqual(layout(segmentAt(0xF0_0000, size: 0x20_0000)), .failure(.segmentOutsideMemory))
    XCTAssertEqual(layout(segmentAt(0x8_0000)), .failure(.segmentOverlapsInformation))
    XCTAssertEqual(layout(segmentAt(0x1_0000)), .failure(.segmentOverlapsInformation))
    XCTAssertEqual(layout(segmentAt(0xE_0000)), .failure(.segmentOverlapsFirmware))
    XCTAssertEqual(layout(F.goodV1ELF32(), modules: [16 << 20]), .failure(.modulesDoNotFit))
    XCTAssertEqual(
      layout(F.goodV1ELF32(), ram: 0xFF00_0000), .failure(.memoryOverlapsDevices))
    // Below the information area is allowed.
    XCTAssertNoThrow(try layout(segmentAt(0x1000, size: 0x1000)).get())
  }

  func testV1Information() throws {
    let placed = try layout(F.goodV1ELF32(), modules: [0x20]).get()
    let rsdp = [UInt8](repeating: 0xAB, count: 36)
    let info = MultibootInformation.build(
      .v1, layout: placed,
      contents: .init(
        commandLine: Array("k a=b".utf8), loaderName: Array("Peregrine".utf8),
        modules: [.init(range: placed.moduleRanges[0], string: Array("mod".utf8))], rsdp: rsdp),
      base: 0x1_0100)
    func u32(_ offset: Int) -> UInt32 {
      (0..<4).reduce(0) { $0 | UInt32(info[offset + $1]) << ($1 * 8) }
    }
    func string(at address: UInt32) -> String {
      let start = Int(address) - 0x1_0100
      return String(decoding: info[start...].prefix { $0 != 0 }, as: UTF8.self)
    }
    XCTAssertEqual(u32(0), 1 << 0 | 1 << 2 | 1 << 3 | 1 << 6 | 1 << 9)
    XCTAssertEqual(u32(4), 639)
    XCTAssertEqual(u32(8), 15360)
    XCTAssertEqual(string(at: u32(16)), "k a=b")
    XCTAssertEqual(u32(20), 1)
    let module = Int(u32(24)) - 0x1_0100
    XCTAssertEqual(u32(module), 0x10_1000)
    XCTAssertEqual(u32(module + 4), 0x10_1020)
    XCTAssertEqual(string(at: u32(module + 8)), "mod")
    XCTAssertEqual(u32(44), 5 * 24, "five map entries of 24 bytes")
    let map = Int(u32(48)) - 0x1_0100
    XCTAssertEqual(u32(map), 20)
    XCTAssertEqual(u32(map + 24 * 2 + 4), 0x10_0000)
    XCTAssertEqual(u32(map + 24 * 2 + 20), 1, "usable")
    XCTAssertEqual(string(at: u32(64)), "Peregrine")
  }

  func testV2Information() throws {
    let placed = try layout(F.v2Kludge(), modules: [0x20]).get()
    var rsdp = Array("RSD PTR ".utf8) + [UInt8](repeating: 7, count: 28)
    rsdp[15] = 2
    let info = MultibootInformation.build(
      .v2, layout: placed,
      contents: .init(
        commandLine: Array("k".utf8), loaderName: Array("Peregrine".utf8),
        modules: [.init(range: placed.moduleRanges[0], string: Array("mod".utf8))], rsdp: rsdp),
      base: 0x1_0100)
    func u32(_ offset: Int) -> UInt32 {
      (0..<4).reduce(0) { $0 | UInt32(info[offset + $1]) << ($1 * 8) }
    }
    XCTAssertEqual(Int(u32(0)), info.count, "total_size")
    var tags: [UInt32: Int] = [:]
    var position = 8
    while position < info.count {
      XCTAssertEqual(position % 8, 0, "tags are 8-byte aligned")
      tags[u32(position)] = position
      if u32(position) == 0 { break }
      position += (Int(u32(position + 4)) + 7) & ~7
    }
    XCTAssertEqual(Set(tags.keys), [0, 1, 2, 3, 4, 6, 14, 15])
    XCTAssertEqual(u32(tags[3]! + 8), 0x20_2000, "module after the kludge's bss")
    XCTAssertEqual(u32(tags[4]! + 12), 15360)
    XCTAssertEqual(u32(tags[6]! + 8), 24, "entry_size")
    XCTAssertEqual(Array(info[tags[14]! + 8..<tags[14]! + 28]), Array(rsdp[0..<20]))
    XCTAssertEqual(Array(info[tags[15]! + 8..<tags[15]! + 44]), rsdp)
    XCTAssertEqual(u32(tags[0]! + 4), 8, "end tag")
    XCTAssertEqual(MultibootInformation.entryMagic(.v2), 0x36D7_6289)
    XCTAssertEqual(MultibootInformation.entryMagic(.v1), 0x2BAD_B002)
  }

  func testGDTIsFlat32Bit() {
    let gdt = MultibootGuestLayout.gdt
    XCTAssertEqual(gdt.count, 24)
    XCTAssertEqual(Array(gdt[8..<16]), [0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0])
    XCTAssertEqual(Array(gdt[16..<24]), [0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0])
  }
}
