import XCTest

@testable import BootProtocols

/// Builds guest ACPI tables and reads them back with the firmware parser (`ACPITables`),
/// which checks every checksum and signature on the way.
final class GuestACPITablesTests: XCTestCase {
  static let base: UInt64 = 0xE_0000

  func memory(_ image: GuestACPIImage) -> FakePhysicalMemory {
    let memory = FakePhysicalMemory()
    memory.place(image.bytes, at: image.base)
    return memory
  }

  func discover(_ image: GuestACPIImage) throws -> ACPIInformation {
    try ACPITables.discover(
      rsdp: .v2(address: image.rsdpAddress, xsdtAddress: image.xsdtAddress),
      memory: memory(image))
  }

  func table(_ image: GuestACPIImage, at address: UInt64) -> ArraySlice<UInt8> {
    let offset = Int(address - image.base)
    let length = Int(u32(image.bytes, offset + 4))
    return image.bytes[offset..<offset + length]
  }

  func u16<C: Collection>(_ bytes: C, _ offset: Int) -> UInt16
  where C.Index == Int, C.Element == UInt8 {
    let start = bytes.startIndex + offset
    return UInt16(bytes[start]) | UInt16(bytes[start + 1]) << 8
  }

  func u32<C: Collection>(_ bytes: C, _ offset: Int) -> UInt32
  where C.Index == Int, C.Element == UInt8 {
    let start = bytes.startIndex + offset
    return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[start + $1]) << (8 * $1) }
  }

  func testRoundTripThroughTheFirmwareParser() throws {
    let image = GuestACPITables.build(
      base: Self.base, vcpuCount: 4, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5)
    let info = try discover(image)

    XCTAssertEqual(image.rsdpAddress, Self.base)
    XCTAssertEqual(
      info.tables.map(\.header.signature), ["XSDT", "FACP", "APIC", "DSDT"].map { Array($0.utf8) })
    XCTAssertEqual(
      info.tables.map(\.address),
      [image.xsdtAddress, image.fadtAddress, image.madtAddress, image.dsdtAddress])
    XCTAssertTrue(info.tables.allSatisfy(\.header.checksumValid))
    XCTAssertEqual(
      info.powerOff,
      ACPIPowerOff(pm1aControlBlock: 0x604, pm1bControlBlock: nil, sleepTypeA: 5, sleepTypeB: 5))
    XCTAssertNil(info.powerOffError)
    XCTAssertNil(info.acpiEnable, "SMI_CMD 0: always in ACPI mode")
    XCTAssertEqual(info.resetRegister, GuestACPIConfiguration.resetControlRegister)
    XCTAssertEqual(info.resetRegister?.register.address, 0xCF9)
    XCTAssertEqual(info.resetRegister?.value, 0x06)

    XCTAssertEqual(
      info.processors,
      (0..<4).map {
        ACPIProcessor(processorUID: $0, apicID: $0, enabled: true, onlineCapable: false)
      })
    XCTAssertEqual(info.ioAPICs, [ACPIIOAPIC(id: 4, address: 0xFEC0_0000, gsiBase: 0)])
    XCTAssertEqual(info.localAPICAddress, 0xFEE0_0000)
    XCTAssertFalse(info.hasLegacyPICs)
  }

  func testRSDTPathAgreesWithXSDT() throws {
    let image = GuestACPITables.build(
      base: Self.base, vcpuCount: 2, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 0)
    let info = try ACPITables.discover(
      rsdp: .v1(address: image.rsdpAddress, rsdtAddress: UInt32(image.rsdtAddress)),
      memory: memory(image))
    XCTAssertEqual(info.tables.first?.header.signature, Array("RSDT".utf8))
    XCTAssertTrue(info.tables.allSatisfy(\.header.checksumValid))
    XCTAssertEqual(info.processors.count, 2)
    XCTAssertEqual(info.powerOff?.sleepTypeA, 0)
    // RSDP v2 with a zero XSDT address falls back on its RSDT field.
    let fallback = try ACPITables.discover(
      rsdp: .v2(address: image.rsdpAddress, xsdtAddress: 0), memory: memory(image))
    XCTAssertEqual(fallback.tables.first?.address, image.rsdtAddress)
  }

  func testRSDPHasBothChecksumsAndTheRootAddresses() {
    let image = GuestACPITables.build(
      base: Self.base, vcpuCount: 1, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5)
    let rsdp = Array(image.bytes[0..<36])
    XCTAssertEqual(Array(rsdp[0..<8]), Array("RSD PTR ".utf8))
    XCTAssertEqual(rsdp[0..<20].reduce(UInt8(0), &+), 0)
    XCTAssertEqual(rsdp.reduce(UInt8(0), &+), 0)
    XCTAssertEqual(rsdp[15], 2, "revision")
    XCTAssertEqual(u32(rsdp, 16), UInt32(image.rsdtAddress))
    XCTAssertEqual(u32(rsdp, 20), 36)
    XCTAssertEqual(
      UInt64(u32(rsdp, 24)) | UInt64(u32(rsdp, 28)) << 32, image.xsdtAddress)
    XCTAssertEqual(image.rsdpAddress % 16, 0)
    XCTAssertEqual(
      image.range, PhysicalRange(start: Self.base, end: Self.base + UInt64(image.bytes.count)))
    XCTAssertLessThanOrEqual(image.range.end, 0x10_0000, "fits the BIOS area")
  }

  func testFACSIsSixtyFourByteAlignedAndNamedByTheFADT() {
    let image = GuestACPITables.build(
      base: Self.base, vcpuCount: 1, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5)
    XCTAssertEqual(image.facsAddress % 64, 0)
    let offset = Int(image.facsAddress - image.base)
    XCTAssertEqual(Array(image.bytes[offset..<offset + 4]), Array("FACS".utf8))
    XCTAssertEqual(u32(image.bytes, offset + 4), 64)
    XCTAssertEqual(image.bytes[offset + 32], 2)
    let fadt = table(image, at: image.fadtAddress)
    XCTAssertEqual(u32(fadt, 36), UInt32(image.facsAddress))
  }

  func testFADTFixedHardware() {
    let image = GuestACPITables.build(
      base: Self.base,
      configuration: GuestACPIConfiguration(
        vcpuCount: 1, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5, pmTimer: 0x608))
    let fadt = table(image, at: image.fadtAddress)
    XCTAssertEqual(fadt.count, 276)
    XCTAssertEqual(fadt[fadt.startIndex + 8], 6, "revision")
    XCTAssertEqual(fadt[fadt.startIndex + 131], 4, "minor version")
    XCTAssertEqual(u32(fadt, 40), UInt32(image.dsdtAddress))
    XCTAssertEqual(u32(fadt, 140), UInt32(image.dsdtAddress), "X_DSDT")
    XCTAssertEqual(u16(fadt, 46), 9, "SCI_INT")
    XCTAssertEqual(u32(fadt, 48), 0, "SMI_CMD")
    XCTAssertEqual(u32(fadt, 56), 0x600, "PM1a_EVT_BLK")
    XCTAssertEqual(u32(fadt, 64), 0x604, "PM1a_CNT_BLK")
    XCTAssertEqual(u32(fadt, 76), 0x608, "PM_TMR_BLK")
    XCTAssertEqual(
      Array(fadt.dropFirst(88).prefix(4)), [4, 2, 0, 4], "PM1_EVT/PM1_CNT/PM2/TMR_LEN")
    // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK: system I/O, width = LEN × 8.
    XCTAssertEqual(Array(fadt.dropFirst(148).prefix(6)), [1, 32, 0, 0, 0x00, 0x06])
    XCTAssertEqual(Array(fadt.dropFirst(172).prefix(6)), [1, 16, 0, 0, 0x04, 0x06])
    XCTAssertEqual(Array(fadt.dropFirst(208).prefix(6)), [1, 32, 0, 0, 0x08, 0x06])
    let flags = u32(fadt, 112)
    // WBINVD, PROC_C1, PWR_BUTTON, SLP_BUTTON, FIX_RTC, RESET_REG_SUP.
    XCTAssertEqual(flags, 0b100_0111_0101)
    XCTAssertEqual(flags & 1 << 20, 0, "not hardware-reduced")
    XCTAssertEqual(u16(fadt, 109), 0b10_0101, "legacy devices, no 8042, no VGA, no CMOS RTC")
    XCTAssertEqual(
      Array(fadt.dropFirst(116).prefix(12)), [1, 8, 0, 1, 0xF9, 0x0C, 0, 0, 0, 0, 0, 0])
    XCTAssertEqual(fadt[fadt.startIndex + 128], 0x06)
  }

  func testNoTimerAndCMOSClock() {
    let image = GuestACPITables.build(
      base: Self.base, vcpuCount: 1, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5,
      hasCMOSClock: true)
    let fadt = table(image, at: image.fadtAddress)
    XCTAssertEqual(u32(fadt, 76), 0)
    XCTAssertEqual(fadt[fadt.startIndex + 91], 0)
    XCTAssertTrue(fadt.dropFirst(208).prefix(12).allSatisfy { $0 == 0 })
    XCTAssertEqual(u16(fadt, 109), 0b101)
  }

  func testMADTOverrides() {
    let image = GuestACPITables.build(
      base: Self.base, vcpuCount: 1, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5)
    let madt = Array(table(image, at: image.madtAddress))
    XCTAssertEqual(madt[8], 5, "revision")
    XCTAssertEqual(u32(madt, 40), 0, "PCAT_COMPAT clear")
    // After the header, APIC address, flags, one local APIC (8) and the I/O APIC (12):
    let overrides = 44 + 8 + 12
    XCTAssertEqual(Array(madt[overrides..<overrides + 10]), [2, 10, 0, 0, 2, 0, 0, 0, 0x05, 0x00])
    XCTAssertEqual(
      Array(madt[overrides + 10..<overrides + 20]), [2, 10, 0, 9, 9, 0, 0, 0, 0x0D, 0x00])
    XCTAssertEqual(Array(madt[overrides + 20..<overrides + 26]), [4, 6, 0xFF, 0, 0, 1])
    XCTAssertEqual(madt.count, overrides + 26)
  }

  func testDSDTEncodesS5ForEverySleepTypeSize() throws {
    let cases: [(UInt8, [UInt8])] = [
      (0, [0x12, 0x04, 0x02, 0x00, 0x00]),
      (1, [0x12, 0x04, 0x02, 0x01, 0x01]),
      (5, [0x12, 0x06, 0x02, 0x0A, 0x05, 0x0A, 0x05]),
      (7, [0x12, 0x06, 0x02, 0x0A, 0x07, 0x0A, 0x07]),
    ]
    for (sleepType, package) in cases {
      let image = GuestACPITables.build(
        base: Self.base, vcpuCount: 1, pm1aEvent: 0x600, pm1aControl: 0x604,
        sleepTypeS5: sleepType)
      let dsdt = Array(table(image, at: image.dsdtAddress))
      XCTAssertEqual(Array(dsdt[0..<4]), Array("DSDT".utf8))
      XCTAssertEqual(dsdt[8], 2, "revision")
      let body = Array(dsdt[36...])
      XCTAssertEqual(body, [0x08, 0x5F, 0x53, 0x35, 0x5F] + package)
      let found = body.withUnsafeBytes { ACPITables.findS5(aml: $0) }
      XCTAssertEqual(found?.sleepTypeA, sleepType)
      XCTAssertEqual(found?.sleepTypeB, sleepType)
      XCTAssertEqual(try discover(image).powerOff?.sleepTypeA, sleepType)
    }
  }

  func testManyProcessorsAtAnotherBase() throws {
    let base: UInt64 = 0x7FF_0000
    let image = GuestACPITables.build(
      base: base, vcpuCount: 254, pm1aEvent: 0xB000, pm1aControl: 0xB004, sleepTypeS5: 0)
    let info = try discover(image)
    XCTAssertEqual(info.processors.count, 254)
    XCTAssertEqual(info.processors.last?.apicID, 253)
    XCTAssertTrue(info.processors.allSatisfy(\.enabled))
    XCTAssertEqual(info.ioAPICs.first?.id, 254)
    XCTAssertEqual(info.powerOff?.pm1aControlBlock, 0xB004)
    XCTAssertTrue(info.tables.allSatisfy(\.header.checksumValid))
    for address in [image.xsdtAddress, image.rsdtAddress, image.fadtAddress, image.madtAddress] {
      XCTAssertEqual(address % 16, 0)
      XCTAssertEqual(table(image, at: address).reduce(UInt8(0), &+), 0)
    }
  }

  func testTablesDoNotOverlap() {
    let image = GuestACPITables.build(
      base: Self.base, vcpuCount: 8, pm1aEvent: 0x600, pm1aControl: 0x604, sleepTypeS5: 5)
    var ranges = [PhysicalRange(start: image.rsdpAddress, end: image.rsdpAddress + 36)]
    ranges.append(PhysicalRange(start: image.facsAddress, end: image.facsAddress + 64))
    for address in [
      image.rsdtAddress, image.xsdtAddress, image.fadtAddress, image.madtAddress, image.dsdtAddress,
    ] {
      ranges.append(
        PhysicalRange(start: address, end: address + UInt64(table(image, at: address).count)))
    }
    for (index, range) in ranges.enumerated() {
      XCTAssertLessThanOrEqual(range.end, image.range.end)
      for other in ranges[(index + 1)...] { XCTAssertFalse(range.overlaps(other)) }
    }
  }
}
