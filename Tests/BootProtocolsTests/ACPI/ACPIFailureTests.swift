import XCTest

@testable import BootProtocols

/// Broken firmware: fatal problems throw, problems in single tables only cost what they hold.
final class ACPIFailureTests: XCTestCase {
  typealias F = ACPIFixture
  typealias D = ACPIDiscoveryTests

  private func assertThrows(
    _ expected: ACPIError, rsdp: RSDP = D.qemuRSDP, memory: FakePhysicalMemory,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    do {
      _ = try ACPITables.discover(rsdp: rsdp, memory: memory)
      XCTFail("discover succeeded, expected \(expected)", file: file, line: line)
    } catch {
      XCTAssertEqual(error, expected, file: file, line: line)
    }
  }

  func testRSDPv1BadChecksum() {
    let memory = D.qemuLikeMemory()
    memory.place(F.corrupt(F.rsdpV1(rsdt: UInt32(D.rootAddress)), at: 19), at: 0xA_0000)
    assertThrows(
      .rsdpChecksum, rsdp: .v1(address: 0xA_0000, rsdtAddress: UInt32(D.rootAddress)),
      memory: memory)
  }

  func testRSDPv2BadExtendedChecksum() {
    let memory = D.qemuLikeMemory()
    // Byte 33 lies outside the ACPI 1.0 checksum, so only the extended checksum catches it.
    memory.place(F.corrupt(F.rsdpV2(rsdt: 0, xsdt: 0x5000), at: 33), at: 0xA_0000)
    assertThrows(.rsdpChecksum, rsdp: .v2(address: 0xA_0000, xsdtAddress: 0x5000), memory: memory)
  }

  func testRSDPUnreadable() {
    assertThrows(
      .rsdpUnreadable, rsdp: .v1(address: 0xDEAD_0000, rsdtAddress: UInt32(D.rootAddress)),
      memory: D.qemuLikeMemory())
  }

  func testRootTableUnreadable() {
    let memory = FakePhysicalMemory()
    memory.place(F.rsdpV1(rsdt: 0x7000_0000), at: D.rsdpAddress)
    assertThrows(
      .rootTableUnreadable, rsdp: .v1(address: D.rsdpAddress, rsdtAddress: 0x7000_0000),
      memory: memory)
  }

  func testRootTableWithWrongSignature() {
    let memory = FakePhysicalMemory()
    memory.place(F.rsdpV1(rsdt: UInt32(D.rootAddress)), at: D.rsdpAddress)
    memory.place(F.xsdt([D.fadtAddress]), at: D.rootAddress)
    assertThrows(.rootTableUnreadable, memory: memory)
  }

  func testRootTableBadChecksum() {
    let memory = FakePhysicalMemory()
    memory.place(F.rsdpV1(rsdt: UInt32(D.rootAddress)), at: D.rsdpAddress)
    memory.place(F.corrupt(F.rsdt([UInt32(D.fadtAddress)]), at: 36), at: D.rootAddress)
    assertThrows(.rootTableChecksum(signature: Array("RSDT".utf8)), memory: memory)
  }

  func testRootTableTruncated() {
    let memory = FakePhysicalMemory()
    memory.place(F.rsdpV2(rsdt: 0, xsdt: D.rootAddress), at: D.rsdpAddress)
    // The XSDT claims three entries but only one is mapped.
    memory.place(Array(F.xsdt([D.fadtAddress, 1, 2]).prefix(44)), at: D.rootAddress)
    assertThrows(
      .tableTruncated(signature: Array("XSDT".utf8)),
      rsdp: .v2(address: D.rsdpAddress, xsdtAddress: D.rootAddress), memory: memory)
  }

  func testFADTBadChecksumIsRecordedAndSkipped() throws {
    var fadt = F.FADT()
    fadt.dsdt = UInt32(D.dsdtAddress)
    fadt.pm1aControl = 0x604
    let corrupted = FakePhysicalMemory()
    corrupted.place(F.rsdpV1(rsdt: UInt32(D.rootAddress)), at: D.rsdpAddress)
    corrupted.place(F.rsdt([UInt32(D.fadtAddress), UInt32(D.madtAddress)]), at: D.rootAddress)
    corrupted.place(F.corrupt(fadt.build(), at: 64), at: D.fadtAddress)
    corrupted.place(
      F.madt(entries: [F.localAPIC(uid: 0, apicID: 0, flags: 1)]), at: D.madtAddress)

    let info = try ACPITables.discover(rsdp: D.qemuRSDP, memory: corrupted)
    XCTAssertNil(info.powerOff)
    XCTAssertEqual(info.powerOffError, .fadtMissing)
    XCTAssertEqual(info.tables.map(\.header.checksumValid), [true, false, true])
    XCTAssertEqual(info.processors.count, 1, "the MADT is still read")
  }

  func testMADTBadChecksumIsSkipped() throws {
    let madt = F.madt(entries: [F.localAPIC(uid: 0, apicID: 0, flags: 1)])
    let info = try ACPITables.discover(
      rsdp: D.qemuRSDP, memory: D.qemuLikeMemory(madt: F.corrupt(madt, at: 40)))
    XCTAssertEqual(info.processors, [])
    XCTAssertNil(info.localAPICAddress)
    let recorded = info.tables.first { $0.header.signature == Array("APIC".utf8) }
    XCTAssertEqual(recorded?.address, D.madtAddress)
    XCTAssertEqual(recorded?.header.checksumValid, false)
    XCTAssertEqual(info.powerOff?.pm1aControlBlock, 0x604, "power-off is unaffected")
  }

  func testFADTRunningIntoUnmappedMemory() throws {
    let memory = FakePhysicalMemory()
    memory.place(F.rsdpV1(rsdt: UInt32(D.rootAddress)), at: D.rsdpAddress)
    memory.place(F.rsdt([UInt32(D.fadtAddress)]), at: D.rootAddress)
    var fadt = F.FADT()
    fadt.pm1aControl = 0x604
    memory.place(Array(fadt.build().prefix(100)), at: D.fadtAddress)

    let info = try ACPITables.discover(rsdp: D.qemuRSDP, memory: memory)
    XCTAssertEqual(info.powerOffError, .tableTruncated(signature: Array("FACP".utf8)))
    XCTAssertEqual(info.tables.last?.header.length, 276)
    XCTAssertEqual(info.tables.last?.header.checksumValid, false)
  }

  func testFADTShorterThanACPI1Layout() throws {
    var fadt = F.FADT()
    fadt.length = 100
    let info = try ACPITables.discover(
      rsdp: D.qemuRSDP, memory: D.qemuLikeMemory(fadt: fadt))
    XCTAssertTrue(info.tables[1].header.checksumValid)
    XCTAssertEqual(info.powerOffError, .tableTruncated(signature: Array("FACP".utf8)))
  }

  func testNoFADT() throws {
    let memory = FakePhysicalMemory()
    memory.place(F.rsdpV1(rsdt: UInt32(D.rootAddress)), at: D.rsdpAddress)
    // An unreadable entry and a zero entry are skipped too.
    memory.place(F.rsdt([UInt32(D.madtAddress), 0, 0x7000_0000]), at: D.rootAddress)
    memory.place(F.madt(entries: []), at: D.madtAddress)
    let info = try ACPITables.discover(rsdp: D.qemuRSDP, memory: memory)
    XCTAssertEqual(info.powerOffError, .fadtMissing)
    XCTAssertEqual(info.tables.count, 2)
  }

  func testDSDTWithoutS5() throws {
    let info = try ACPITables.discover(
      rsdp: D.qemuRSDP, memory: D.qemuLikeMemory(dsdt: F.dsdt(aml: F.preamble + F.postamble)))
    XCTAssertNil(info.powerOff)
    XCTAssertEqual(info.powerOffError, .s5Missing)
    XCTAssertEqual(info.processors.count, 2)
  }

  func testDSDTWithMalformedS5() throws {
    // Package elements that are name references, not constants.
    let aml =
      [0x08] + Array("_S5_".utf8) + [0x12, 0x0A, 0x02] + Array("SLPA".utf8) + Array("SLPB".utf8)
    let info = try ACPITables.discover(
      rsdp: D.qemuRSDP, memory: D.qemuLikeMemory(dsdt: F.dsdt(aml: aml)))
    XCTAssertEqual(info.powerOffError, .s5Malformed)
  }

  func testDSDTBadChecksum() throws {
    let dsdt = F.dsdt(aml: F.s5(elements: [F.zero, F.zero]))
    let info = try ACPITables.discover(
      rsdp: D.qemuRSDP, memory: D.qemuLikeMemory(dsdt: F.corrupt(dsdt, at: 40)))
    XCTAssertEqual(info.powerOffError, .dsdtUnreadable)
    XCTAssertEqual(info.tables.last?.header.signature, Array("DSDT".utf8))
    XCTAssertEqual(info.tables.last?.header.checksumValid, false)
  }

  func testDSDTUnreadable() throws {
    var fadt = F.FADT()
    fadt.dsdt = 0x7000_0000
    fadt.pm1aControl = 0x604
    let info = try ACPITables.discover(rsdp: D.qemuRSDP, memory: D.qemuLikeMemory(fadt: fadt))
    XCTAssertEqual(info.powerOffError, .dsdtUnreadable)
    XCTAssertEqual(info.tables.count, 3, "no entry for a DSDT whose header cannot be read")
  }

  func testErrorMessages() {
    XCTAssertEqual(ACPIError.s5Missing.message.description, "acpi DSDT has no \\_S5 object")
    XCTAssertEqual(
      ACPIError.rootTableChecksum(signature: []).message.description,
      "acpi RSDT/XSDT checksum is invalid")
  }
}
