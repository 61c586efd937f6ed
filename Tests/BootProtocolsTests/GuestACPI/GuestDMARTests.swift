import XCTest

@testable import BootProtocols

/// The guest's DMAR (VT-d spec rev 4.1 §8.1) for `iommu=vtd`, read back with the node's own
/// DMAR parser (the one that reads the host firmware's table).
final class GuestDMARTests: XCTestCase {
  private func build(_ unit: GuestDMARUnit?) -> GuestACPIImage {
    GuestACPITables.build(
      base: 0xE_0000, vcpuCount: 4, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5,
      pciHostBridge: GuestPCITablesTests.bridge, remappingUnit: unit)
  }

  private func table(_ image: GuestACPIImage, at address: UInt64) -> [UInt8] {
    let offset = Int(address - image.base)
    let length = Int(image.bytes[offset + 4]) | Int(image.bytes[offset + 5]) << 8
    return Array(image.bytes[offset..<offset + length])
  }

  func testTheDMARNamesOneUnitForAllDevicesAndTheIOAPIC() throws {
    let image = build(
      GuestDMARUnit(registerBase: 0xFED9_0000, hostAddressWidth: 48, ioAPICID: 4))
    let address = try XCTUnwrap(image.dmarAddress)
    let bytes = table(image, at: address)
    let dmar = try bytes.withUnsafeBytes { raw throws(DMARError) in try DMARTable.parse(raw) }
    XCTAssertEqual(dmar.hostAddressWidth, 48)
    XCTAssertTrue(dmar.interruptRemapping)
    XCTAssertTrue(dmar.x2APICOptOut)
    XCTAssertEqual(dmar.remappingUnits.count, 1)
    let unit = try XCTUnwrap(dmar.remappingUnits.first)
    XCTAssertEqual(unit.registerBase, 0xFED9_0000)
    XCTAssertTrue(unit.includesAllDevices)
    XCTAssertEqual(unit.segment, 0)
    XCTAssertEqual(unit.scopes.count, 1)
    XCTAssertEqual(unit.scopes.first?.kind, .ioAPIC)
    XCTAssertEqual(unit.scopes.first?.enumerationID, 4)
    // Both root tables list it, after the FADT, MADT and MCFG.
    let xsdt = table(image, at: image.xsdtAddress)
    XCTAssertEqual(xsdt.count, 36 + 4 * 8)
    XCTAssertEqual(
      xsdt[60..<68].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) },
      address)
    XCTAssertEqual(table(image, at: image.rsdtAddress).count, 36 + 4 * 4)
    XCTAssertNotNil(image.mcfgAddress)
  }

  func testNoUnitNoDMAR() {
    let image = build(nil)
    XCTAssertNil(image.dmarAddress)
    XCTAssertEqual(table(image, at: image.xsdtAddress).count, 36 + 3 * 8)
  }
}
