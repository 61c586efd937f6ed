import XCTest

@testable import BootProtocols

/// IVRS parsing (AMD IOMMU spec rev 3.x §5.2) against the shape QEMU 7.2's `build_amd_iommu`
/// gives `-machine q35 -device amd-iommu` and against a firmware-style table with IVHD types
/// 10h and 40h for one IOMMU, ranges, aliases, special and ACPI-namespace entries.
final class IVRSTests: XCTestCase {
  /// 0x6C bytes: IVinfo EFRSup, PASize 40; one IVHD 10h (flags 0xD1, IOMMU at 00:02.0,
  /// capability 0x40, registers at 0xFED80000, feature reporting 0x44) selecting 00:00.0,
  /// 00:01.0, 00:02.0, 00:03.0, 00:1f.0, 00:1f.2, 00:1f.3, then the I/O APIC (handle 0) as
  /// 00:14.0.
  static let qemuQ35: [UInt8] = [
    0x49, 0x56, 0x52, 0x53, 0x6c, 0x00, 0x00, 0x00, 0x01, 0x20, 0x42, 0x4f, 0x43, 0x48, 0x53, 0x20,
    0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0xd1, 0x3c, 0x00, 0x10, 0x00, 0x40, 0x00, 0x00, 0x00, 0xd8, 0xfe, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00,
    0x02, 0x10, 0x00, 0x00, 0x02, 0x18, 0x00, 0x00, 0x02, 0xf8, 0x00, 0x00, 0x02, 0xfa, 0x00, 0x00,
    0x02, 0xfb, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x00, 0x01,
  ]

  func parse(_ bytes: [UInt8]) throws(IVRSError) -> IVRSTable {
    var result: Result<IVRSTable, IVRSError> = .failure(.notIVRS)
    bytes.withUnsafeBytes { raw in
      do throws(IVRSError) {
        result = .success(try IVRSTable.parse(raw))
      } catch {
        result = .failure(error)
      }
    }
    return try result.get()
  }

  func refusal(_ bytes: [UInt8]) -> IVRSError? {
    do throws(IVRSError) {
      _ = try parse(bytes)
      return nil
    } catch {
      return error
    }
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

  static func le(_ value: UInt64, _ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
  }

  /// An IVHD block of `type` with `entries` (its length filled in).
  static func ivhd(type: UInt8, base: UInt64 = 0xFEB8_0000, efr: UInt64 = 0, _ entries: [UInt8])
    -> [UInt8]
  {
    let fixed = type == 0x10 ? 24 : 40
    var block: [UInt8] = [type, 0xB0] + le(UInt64(fixed + entries.count), 2) + le(0x0002, 2)
    block += le(0x40, 2) + le(base, 8) + le(0, 2) + le(0x1300, 2) + le(0, 4)
    if type != 0x10 { block += le(efr, 8) + le(0, 8) }
    return block + entries
  }

  static let fixedPart: [UInt8] = Array(qemuQ35[0..<48])

  func testQEMUTable() throws {
    let table = try parse(Self.qemuQ35)
    XCTAssertEqual(table.physicalAddressSize, 40)
    XCTAssertEqual(table.virtualAddressSize, 0)
    XCTAssertTrue(table.extendedFeaturesSupported)
    XCTAssertEqual(table.units.count, 1)
    let unit = table.units[0]
    XCTAssertEqual(unit.type, 0x10)
    XCTAssertEqual(unit.flags, 0xD1)
    XCTAssertEqual(unit.deviceID, 0x0010)
    XCTAssertEqual(unit.capabilityOffset, 0x40)
    XCTAssertEqual(unit.registerBase, 0xFED8_0000)
    XCTAssertEqual(unit.attributes, 0x44)
    XCTAssertEqual(unit.extendedFeatures, 0)
    XCTAssertEqual(unit.devices.count, 8)
    XCTAssertEqual(
      unit.devices[2], IVRSDeviceEntry(kind: .device, first: 0x10, last: 0x10, setting: 0))
    XCTAssertEqual(
      unit.devices[7],
      IVRSDeviceEntry(kind: .special(variety: 1, handle: 0), first: 0xA0, last: 0xA0, setting: 0))
    XCTAssertTrue(unit.covers(0x00FA))  // 00:1f.2
    XCTAssertFalse(unit.covers(0x0020))  // 00:04.0 is not listed
  }

  /// Firmware lists one IOMMU as 10h and 40h; the 40h block (with the EFR image) is preferred.
  /// Its entries: a range 01:00.0-01:1f.7, an alias 02:00.0 → 00:14.4, an extended select,
  /// an HPET, an ACPI-namespace device with a 4-byte UID, then padding.
  func testFirmwareTableWithTwoTypesAndEveryEntryKind() throws {
    var entries: [UInt8] = [0x03, 0x00, 0x01, 0x00, 0x04, 0xFF, 0x01, 0x00]
    entries += [0x42, 0x00, 0x02, 0x00, 0x00, 0xA4, 0x00, 0x00]
    entries += [0x46, 0x08, 0x00, 0xD7] + Self.le(0x8000_0000, 4)
    entries += [0x48, 0x00, 0x00, 0x00, 0x00, 0xA5, 0x00, 0x02]
    entries += [0xF0, 0xA5, 0x00, 0x40] + Array("AMDI0020".utf8) + [UInt8](repeating: 0, count: 8)
    entries += [0x02, 0x04] + Array("ID00".utf8)
    entries += [0x00, 0x00, 0x00, 0x00]
    let table = try parse(
      Self.sealed(
        Self.fixedPart + Self.ivhd(type: 0x10, [0x01, 0x00, 0x00, 0x00])
          + Self.ivhd(type: 0x40, efr: 0x0000_0246_577E_FA2F, entries)))
    XCTAssertEqual(table.units.count, 2)
    XCTAssertEqual(
      table.units[0].devices, [IVRSDeviceEntry(kind: .all, first: 0, last: 0xFFFF, setting: 0)])
    let preferred = table.preferredUnits
    XCTAssertEqual(preferred.count, 1)
    XCTAssertEqual(preferred[0].type, 0x40)
    XCTAssertEqual(preferred[0].extendedFeatures, 0x0000_0246_577E_FA2F)
    XCTAssertEqual(preferred[0].info, 0x1300)
    XCTAssertEqual(
      preferred[0].devices,
      [
        IVRSDeviceEntry(kind: .range, first: 0x0100, last: 0x01FF, setting: 0),
        IVRSDeviceEntry(kind: .alias(source: 0x00A4), first: 0x0200, last: 0x0200, setting: 0),
        IVRSDeviceEntry(kind: .device, first: 0x0008, last: 0x0008, setting: 0xD7),
        IVRSDeviceEntry(kind: .special(variety: 2, handle: 0), first: 0xA5, last: 0xA5, setting: 0),
        IVRSDeviceEntry(kind: .acpiDevice, first: 0x00A5, last: 0x00A5, setting: 0x40),
      ])
    XCTAssertTrue(preferred[0].covers(0x0180))
    XCTAssertFalse(preferred[0].covers(0x0300))
  }

  /// An IVMD block (type 20h, 32 bytes) is skipped, not refused.
  func testMemoryDefinitionSkipped() throws {
    let ivmd: [UInt8] = [0x20, 0x08] + Self.le(32, 2) + [UInt8](repeating: 0, count: 28)
    let table = try parse(
      Self.sealed(Self.fixedPart + ivmd + Self.ivhd(type: 0x11, [0x01, 0, 0, 0])))
    XCTAssertEqual(table.units.map(\.type), [0x11])
  }

  func testMalformedTablesRefusedWithReason() {
    let good = Self.ivhd(type: 0x10, [0x02, 0x10, 0x00, 0x00])
    var badSignature = Self.qemuQ35
    badSignature[0] = 0x44
    var badChecksum = Self.qemuQ35
    badChecksum[60] ^= 1
    let cases: [(String, [UInt8], IVRSError)] = [
      ("short", Array(Self.qemuQ35[0..<40]), .notIVRS),
      ("signature", badSignature, .notIVRS),
      ("length field", Self.qemuQ35 + [0], .notIVRS),
      ("checksum", badChecksum, .badChecksum),
      ("no IVHD", Self.sealed(Self.fixedPart), .noIOMMU),
      (
        "block runs past table", Self.sealed(Self.fixedPart + Array(good.dropLast())),
        .blockTruncated(offset: 48)
      ),
      (
        "block header cut", Self.sealed(Self.fixedPart + [0x10, 0x00]), .blockTruncated(offset: 48)
      ),
      (
        "block length 2", Self.sealed(Self.fixedPart + [0x20, 0, 2, 0]), .blockTruncated(offset: 48)
      ),
      (
        "40h below its fixed part",
        Self.sealed(Self.fixedPart + [0x40, 0, 24, 0] + Array(good[4..<24])),
        .blockTruncated(offset: 48)
      ),
      (
        "zero base", Self.sealed(Self.fixedPart + Self.ivhd(type: 0x10, base: 0, [])),
        .registerBaseInvalid(offset: 48)
      ),
      (
        "unaligned base",
        Self.sealed(Self.fixedPart + Self.ivhd(type: 0x10, base: 0xFEB8_2000, [])),
        .registerBaseInvalid(offset: 48)
      ),
      (
        "entry past block", Self.sealed(Self.fixedPart + Self.ivhd(type: 0x10, [0x42, 0, 0, 0])),
        .deviceEntryMalformed(offset: 72)
      ),
      (
        "unknown variable entry",
        Self.sealed(Self.fixedPart + Self.ivhd(type: 0x10, [0x80, 0, 0, 0])),
        .deviceEntryMalformed(offset: 72)
      ),
      (
        "ACPI UID past block",
        Self.sealed(
          Self.fixedPart + Self.ivhd(type: 0x10, [0xF0] + [UInt8](repeating: 0, count: 20) + [9])),
        .deviceEntryMalformed(offset: 72)
      ),
      (
        "end without start",
        Self.sealed(Self.fixedPart + Self.ivhd(type: 0x10, [0x04, 0xFF, 0, 0])),
        .rangeMalformed(offset: 72)
      ),
      (
        "start without end", Self.sealed(Self.fixedPart + Self.ivhd(type: 0x10, [0x03, 0, 1, 0])),
        .rangeMalformed(offset: 72)
      ),
      (
        "select inside a range",
        Self.sealed(
          Self.fixedPart + Self.ivhd(type: 0x10, [0x03, 0, 1, 0, 0x02, 0, 0, 0, 0x04, 0xFF, 1, 0])),
        .rangeMalformed(offset: 72)
      ),
      (
        "reversed range",
        Self.sealed(Self.fixedPart + Self.ivhd(type: 0x10, [0x03, 0, 2, 0, 0x04, 0xFF, 1, 0])),
        .rangeMalformed(offset: 76)
      ),
    ]
    for (name, bytes, expected) in cases {
      XCTAssertEqual(refusal(bytes), expected, name)
    }
    XCTAssertEqual(String(describing: IVRSError.noIOMMU.message), "ivrs: no IVHD")
  }
}
