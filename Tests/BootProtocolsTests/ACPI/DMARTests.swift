import XCTest

@testable import BootProtocols

/// DMAR parsing against the table QEMU 7.2 builds for `-machine q35 -device
/// intel-iommu,intremap=on` (read from /sys/firmware/acpi/tables/DMAR of a Linux guest).
final class DMARTests: XCTestCase {
  /// 0x78 bytes: HAW 39, INTR_REMAP, one DRHD at 0xFED90000 (segment 0, flags 0) whose scopes
  /// are the I/O APIC (id 0, bus 0xFF, 00.0) and endpoints 00:00.0, 00:01.0, 00:02.0,
  /// 00:1f.0, 00:1f.2, 00:1f.3.
  static let qemuQ35: [UInt8] = [
    0x44, 0x4d, 0x41, 0x52, 0x78, 0x00, 0x00, 0x00, 0x01, 0x0d, 0x42, 0x4f, 0x43, 0x48, 0x53, 0x20,
    0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43,
    0x01, 0x00, 0x00, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd9, 0xfe, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x08, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x02,
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x03,
  ]

  func parse(_ bytes: [UInt8]) throws(DMARError) -> DMARTable {
    var result: Result<DMARTable, DMARError> = .failure(.notDMAR)
    bytes.withUnsafeBytes { raw in
      do throws(DMARError) {
        result = .success(try DMARTable.parse(raw))
      } catch {
        result = .failure(error)
      }
    }
    return try result.get()
  }

  /// Fixes length and checksum after an edit.
  static func sealed(_ bytes: [UInt8]) -> [UInt8] {
    var table = bytes
    let length = UInt32(table.count)
    for index in 0..<4 { table[4 + index] = UInt8(truncatingIfNeeded: length >> (8 * index)) }
    table[9] = 0
    var sum: UInt8 = 0
    for byte in table { sum &+= byte }
    table[9] = 0 &- sum
    return table
  }

  func testQEMUTable() throws {
    let table = try parse(Self.qemuQ35)
    XCTAssertEqual(table.hostAddressWidth, 39)
    XCTAssertTrue(table.interruptRemapping)
    XCTAssertFalse(table.x2APICOptOut)
    XCTAssertEqual(table.remappingUnits.count, 1)
    let unit = table.remappingUnits[0]
    XCTAssertEqual(unit.registerBase, 0xFED9_0000)
    XCTAssertEqual(unit.segment, 0)
    XCTAssertFalse(unit.includesAllDevices)
    XCTAssertEqual(unit.scopes.count, 7)
    XCTAssertEqual(
      unit.scopes[0],
      DMARDeviceScope(
        kind: .ioAPIC, enumerationID: 0, startBus: 0xFF,
        path: [DMARPathHop(device: 0, function: 0)]))
    let endpoints = unit.scopes.dropFirst().map {
      ($0.kind, $0.path[0].device, $0.path[0].function)
    }
    XCTAssertEqual(endpoints.map(\.1), [0, 1, 2, 0x1F, 0x1F, 0x1F])
    XCTAssertEqual(endpoints.map(\.2), [0, 0, 0, 0, 2, 3])
    XCTAssertTrue(endpoints.allSatisfy { $0.0 == .pciEndpoint })
    XCTAssertTrue(table.reservedRegions.isEmpty)
  }

  func testIncludeAllAndRMRR() throws {
    var bytes = Self.qemuQ35
    bytes[52] = 1  // DRHD flags: INCLUDE_PCI_ALL
    // RMRR (type 1, length 32): segment 0, 0xE0000...0xFFFFF, one endpoint 00:1d.0.
    bytes += [0x01, 0x00, 0x20, 0x00, 0, 0, 0, 0]
    bytes += [0x00, 0x00, 0x0E, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0x0F, 0, 0, 0, 0, 0]
    bytes += [0x01, 0x08, 0, 0, 0, 0, 0x1D, 0]
    let table = try parse(Self.sealed(bytes))
    XCTAssertTrue(table.remappingUnits[0].includesAllDevices)
    XCTAssertEqual(table.reservedRegions.count, 1)
    XCTAssertEqual(table.reservedRegions[0].base, 0xE0000)
    XCTAssertEqual(table.reservedRegions[0].limit, 0xFFFFF)
    XCTAssertEqual(
      table.reservedRegions[0].scopes[0].path, [DMARPathHop(device: 0x1D, function: 0)])
  }

  func testUnknownStructureSkipped() throws {
    // An RHSA (type 3, length 20) after the DRHD.
    let bytes = Self.qemuQ35 + [0x03, 0x00, 0x14, 0x00] + [UInt8](repeating: 0, count: 16)
    XCTAssertEqual(try parse(Self.sealed(bytes)).remappingUnits.count, 1)
  }

  func assertRefused(_ bytes: [UInt8], _ expected: DMARError, line: UInt = #line) {
    XCTAssertThrowsError(try parse(bytes), line: line) { error in
      XCTAssertEqual(error as? DMARError, expected, line: line)
    }
  }

  func testMalformedTablesRefusedWithReason() {
    assertRefused(Array(Self.qemuQ35.prefix(40)), .notDMAR)
    var wrongSignature = Self.qemuQ35
    wrongSignature[0] = 0x41
    assertRefused(Self.sealed(wrongSignature), .notDMAR)
    var badSum = Self.qemuQ35
    badSum[9] &+= 1
    assertRefused(badSum, .badChecksum)
    // The DRHD claims 0x50 bytes but only 0x48 remain.
    var longDRHD = Self.qemuQ35
    longDRHD[50] = 0x50
    assertRefused(Self.sealed(longDRHD), .structureTruncated(offset: 48))
    // A DRHD of length 12, below its 16-byte fixed part.
    assertRefused(
      Self.sealed(Array(Self.qemuQ35.prefix(48)) + [0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      .structureTruncated(offset: 48))
    var unaligned = Self.qemuQ35
    unaligned[56] = 0x10  // register base 0xFED90010
    assertRefused(Self.sealed(unaligned), .registerBaseInvalid(offset: 48))
    var zeroBase = Self.qemuQ35
    zeroBase[58] = 0
    zeroBase[59] = 0
    assertRefused(Self.sealed(zeroBase), .registerBaseInvalid(offset: 48))
    var oddScope = Self.qemuQ35
    oddScope[65] = 7  // the I/O APIC scope's length: odd path
    assertRefused(Self.sealed(oddScope), .scopeMalformed(offset: 64))
    var unknownScope = Self.qemuQ35
    unknownScope[72] = 9  // scope type 9 does not exist
    assertRefused(Self.sealed(unknownScope), .scopeMalformed(offset: 72))
    assertRefused(Self.sealed(Array(Self.qemuQ35.prefix(48))), .noRemappingUnit)
    // RMRR with limit below base.
    let badRMRR =
      Self.qemuQ35 + [0x01, 0x00, 0x18, 0x00, 0, 0, 0, 0]
      + [0x00, 0x10, 0, 0, 0, 0, 0, 0, 0xFF, 0x0F, 0, 0, 0, 0, 0, 0]
    assertRefused(Self.sealed(badRMRR), .reservedRegionInvalid(offset: 0x78))
  }
}
