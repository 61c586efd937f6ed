import XCTest

@testable import BootProtocols

/// The PCI additions to the guest's tables: MCFG, `\_SB.PCI0` in the DSDT, e820's ECAM.
final class GuestPCITablesTests: XCTestCase {
  static let bridge = GuestPCIHostBridge(
    ecamBase: 0xE000_0000, memoryBase: 0xC000_0000, memorySize: 0x2000_0000, firstGSI: 16,
    gsiCount: 8)

  private func build(_ bridge: GuestPCIHostBridge?) -> GuestACPIImage {
    GuestACPITables.build(
      base: 0xE_0000, vcpuCount: 2, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5,
      pciHostBridge: bridge)
  }

  private func table(_ image: GuestACPIImage, at address: UInt64) -> [UInt8] {
    let offset = Int(address - image.base)
    let length = Int(image.bytes[offset + 4]) | Int(image.bytes[offset + 5]) << 8
    return Array(image.bytes[offset..<offset + length])
  }

  private func sum(_ bytes: [UInt8]) -> UInt8 { bytes.reduce(0, &+) }

  func testMCFGNamesBusZerosECAMAndTheRootTablesListIt() throws {
    let image = build(Self.bridge)
    let mcfgAddress = try XCTUnwrap(image.mcfgAddress)
    let mcfg = table(image, at: mcfgAddress)
    XCTAssertEqual(Array(mcfg[0..<4]), Array("MCFG".utf8))
    XCTAssertEqual(mcfg.count, 36 + 8 + 16)
    XCTAssertEqual(sum(mcfg), 0)
    XCTAssertEqual(Array(mcfg[44..<52]), [0, 0, 0, 0xE0, 0, 0, 0, 0], "base 0xE000_0000")
    XCTAssertEqual(Array(mcfg[52..<56]), [0, 0, 0, 0], "segment 0, buses 0-0")
    let xsdt = table(image, at: image.xsdtAddress)
    XCTAssertEqual(xsdt.count, 36 + 3 * 8)
    XCTAssertEqual(
      xsdt[52..<60].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) },
      mcfgAddress)
    let rsdt = table(image, at: image.rsdtAddress)
    XCTAssertEqual(rsdt.count, 36 + 3 * 4)
    XCTAssertNil(build(nil).mcfgAddress, "no PCI, no MCFG")
    XCTAssertEqual(table(build(nil), at: build(nil).xsdtAddress).count, 36 + 2 * 8)
  }

  func testTheDSDTDeclaresTheRootBridgeWithItsResourcesAndRoutes() {
    let image = build(Self.bridge)
    let dsdt = table(image, at: image.dsdtAddress)
    XCTAssertEqual(sum(dsdt), 0)
    let plain = table(build(nil), at: build(nil).dsdtAddress)
    let pci = Array(dsdt[plain.count...])
    // DeviceOp, then a 2-byte PkgLength covering the rest of the table, then \_SB_.PCI0.
    XCTAssertEqual(Array(pci[0..<2]), [0x5B, 0x82])
    let length = Int(pci[2] & 0x0F) | Int(pci[3]) << 4
    XCTAssertEqual(pci[2] >> 6, 1)
    XCTAssertEqual(length, pci.count - 2, "PkgLength counts itself and the rest")
    XCTAssertEqual(Array(pci[4..<14]), [0x5C, 0x2E] + Array("_SB_PCI0".utf8))
    XCTAssertEqual(
      Array(pci[14..<24]), [0x08] + Array("_HID".utf8) + [0x0C, 0x41, 0xD0, 0x0A, 0x03],
      "EisaId(PNP0A03)")
    XCTAssertNotNil(find([0x88, 0x0D, 0x00, 0x02], in: pci), "a bus number range")
    XCTAssertNotNil(find([0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08], in: pci))
    let memory = find([0x87, 0x17, 0x00, 0x00], in: pci)!
    XCTAssertEqual(Array(pci[memory + 10..<memory + 18]), [0, 0, 0, 0xC0, 0xFF, 0xFF, 0xFF, 0xDF])
    // _PRT: 124 entries; slot 1 INTA is GSI 17, slot 7 INTB wraps to 16.
    let prt = find(Array("_PRT".utf8), in: pci)!
    XCTAssertEqual(pci[prt + 4], 0x12)
    XCTAssertEqual(pci[prt + 7], 124, "NumElements after a 2-byte PkgLength")
    XCTAssertEqual(
      Array(pci[prt + 8..<prt + 20]),
      [0x12, 0x0B, 0x04, 0x0C, 0xFF, 0xFF, 0x01, 0x00, 0x00, 0x00, 0x0A, 17])
    XCTAssertEqual(Self.bridge.gsi(slot: 7, pin: 1), 16)
  }

  func testPackageLengthEncodings() {
    XCTAssertEqual(AMLEncoder.packageLength(10), [11])
    XCTAssertEqual(AMLEncoder.packageLength(62), [63])
    XCTAssertEqual(AMLEncoder.packageLength(63), [0x40 | 1, 4], "65 = 0x41")
    XCTAssertEqual(AMLEncoder.packageLength(4093), [0x40 | 0xF, 0xFF], "4095 still fits")
    XCTAssertEqual(AMLEncoder.packageLength(4094), [0x80 | 1, 0, 1], "4097 needs three")
    XCTAssertEqual(AMLEncoder.eisaID(Array("PNP0A08".utf8)), 0x080A_D041)
  }

  func testTheE820MapReservesTheECAM() throws {
    let entries = try LinuxE820Table.entries(
      ramSize: 64 << 20, devices: [Self.bridge.ecamRange])
    XCTAssertEqual(
      entries.last,
      LinuxE820Entry(address: 0xE000_0000, size: 1 << 20, type: LinuxE820Entry.reserved))
    XCTAssertThrowsError(
      try LinuxE820Table.entries(ramSize: 0xE010_0000, devices: [Self.bridge.ecamRange]))
  }

  private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for start in 0...(haystack.count - needle.count)
    where Array(haystack[start..<start + needle.count]) == needle {
      return start
    }
    return nil
  }
}
