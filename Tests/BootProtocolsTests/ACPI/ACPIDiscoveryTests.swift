import XCTest

@testable import BootProtocols

/// End-to-end walks RSDP → RSDT/XSDT → FADT → DSDT and MADT over synthetic firmware.
final class ACPIDiscoveryTests: XCTestCase {
  typealias F = ACPIFixture

  static let rsdpAddress: UInt64 = 0x9_0000
  static let rootAddress: UInt64 = 0x7FE_0000
  static let fadtAddress: UInt64 = 0x7FE_0100
  static let madtAddress: UInt64 = 0x7FE_0400
  static let dsdtAddress: UInt64 = 0x7FE_1000

  /// A QEMU q35-like machine: PM1a_CNT at 0x604, `Name(_S5, Package(4) {Zero, Zero, Zero, Zero})`,
  /// two processors of which the second is disabled but online capable, one I/O APIC.
  static func qemuLikeMemory(
    fadt: ACPIFixture.FADT? = nil, dsdt: [UInt8]? = nil, madt: [UInt8]? = nil
  ) -> FakePhysicalMemory {
    let memory = FakePhysicalMemory()
    memory.place(F.rsdpV1(rsdt: UInt32(rootAddress)), at: rsdpAddress)
    memory.place(F.rsdt([UInt32(fadtAddress), UInt32(madtAddress)]), at: rootAddress)
    var defaultFADT = F.FADT()
    defaultFADT.dsdt = UInt32(dsdtAddress)
    defaultFADT.pm1aControl = 0x604
    defaultFADT.smiCommand = 0xB2
    defaultFADT.acpiEnable = 0xF1
    memory.place((fadt ?? defaultFADT).build(), at: fadtAddress)
    let aml = F.preamble + F.s5(elements: [F.zero, F.zero, F.zero, F.zero]) + F.postamble
    memory.place(dsdt ?? F.dsdt(aml: aml), at: dsdtAddress)
    let defaultMADT = F.madt(entries: [
      F.localAPIC(uid: 0, apicID: 0, flags: 1),
      F.localAPIC(uid: 1, apicID: 1, flags: 2),
      F.ioAPIC(id: 0, address: 0xFEC0_0000, gsiBase: 0),
    ])
    memory.place(madt ?? defaultMADT, at: madtAddress)
    return memory
  }

  static let qemuRSDP = RSDP.v1(address: rsdpAddress, rsdtAddress: UInt32(rootAddress))

  func testQEMULikeMachine() throws {
    let info = try ACPITables.discover(rsdp: Self.qemuRSDP, memory: Self.qemuLikeMemory())

    XCTAssertEqual(
      info.powerOff,
      ACPIPowerOff(pm1aControlBlock: 0x604, pm1bControlBlock: nil, sleepTypeA: 0, sleepTypeB: 0))
    XCTAssertNil(info.powerOffError)
    XCTAssertEqual(info.powerOff?.controlValue(forB: false), 0x2000)
    XCTAssertEqual(info.acpiEnable, ACPIEnableCommand(port: 0xB2, value: 0xF1))
    XCTAssertNil(info.resetRegister)

    XCTAssertEqual(
      info.tables.map(\.address),
      [
        Self.rootAddress, Self.fadtAddress, Self.madtAddress, Self.dsdtAddress,
      ])
    XCTAssertEqual(
      info.tables.map(\.header.signature), ["RSDT", "FACP", "APIC", "DSDT"].map { Array($0.utf8) })
    XCTAssertTrue(info.tables.allSatisfy(\.header.checksumValid))
    XCTAssertEqual(info.tables[1].header.revision, 6)
    XCTAssertEqual(info.tables[1].header.length, 276)
    XCTAssertEqual(info.tables[1].header.oemID, Array("BOCHS ".utf8))

    XCTAssertEqual(
      info.processors,
      [
        ACPIProcessor(processorUID: 0, apicID: 0, enabled: true, onlineCapable: false),
        ACPIProcessor(processorUID: 1, apicID: 1, enabled: false, onlineCapable: true),
      ])
    XCTAssertEqual(info.ioAPICs, [ACPIIOAPIC(id: 0, address: 0xFEC0_0000, gsiBase: 0)])
    XCTAssertEqual(info.localAPICAddress, 0xFEE0_0000)
    XCTAssertTrue(info.hasLegacyPICs)
  }

  /// A Bochs-like machine through RSDP v2 and the XSDT: PM1a_CNT at 0xb004,
  /// `Name(\_S5, Package(2) {0x05, 0x05})`, X_DSDT above 4 GiB preferred over a 32-bit DSDT
  /// that has no `_S5`, and a reset register.
  func testBochsLikeMachineThroughXSDT() throws {
    let memory = FakePhysicalMemory()
    let xsdtAddress: UInt64 = 0x1_0000_0000
    let extendedDSDT: UInt64 = 0x1_0000_2000
    memory.place(F.rsdpV2(rsdt: 0, xsdt: xsdtAddress), at: Self.rsdpAddress)
    memory.place(F.xsdt([Self.fadtAddress]), at: xsdtAddress)
    var fadt = F.FADT()
    fadt.dsdt = UInt32(Self.dsdtAddress)
    fadt.extendedDSDT = extendedDSDT
    fadt.pm1aControl = 0xB004
    fadt.flags = 1 << 10
    fadt.resetRegister = F.gas(space: 1, address: 0xCF9)
    fadt.resetValue = 0x06
    memory.place(fadt.build(), at: Self.fadtAddress)
    memory.place(F.dsdt(aml: F.preamble), at: Self.dsdtAddress)
    memory.place(
      F.dsdt(aml: F.preamble + F.s5(rooted: true, elements: [F.byte(5), F.byte(5)])),
      at: extendedDSDT)

    let info = try ACPITables.discover(
      rsdp: .v2(address: Self.rsdpAddress, xsdtAddress: xsdtAddress), memory: memory)

    XCTAssertEqual(
      info.powerOff,
      ACPIPowerOff(pm1aControlBlock: 0xB004, pm1bControlBlock: nil, sleepTypeA: 5, sleepTypeB: 5))
    XCTAssertEqual(info.powerOff?.controlValue(forB: false), 0x3400)
    XCTAssertEqual(info.tables.map(\.address), [xsdtAddress, Self.fadtAddress, extendedDSDT])
    XCTAssertEqual(
      info.resetRegister,
      ACPIResetRegister(
        register: ACPIGenericAddress(
          addressSpace: ACPIGenericAddress.systemIO, bitWidth: 8, bitOffset: 0, accessSize: 1,
          address: 0xCF9),
        value: 0x06))
    XCTAssertNil(info.acpiEnable)
    XCTAssertEqual(info.processors, [])
    XCTAssertNil(info.localAPICAddress)
  }

  func testRSDPv2WithoutXSDTFallsBackToRSDT() throws {
    let memory = Self.qemuLikeMemory()
    memory.place(F.rsdpV2(rsdt: UInt32(Self.rootAddress), xsdt: 0), at: 0xA_0000)
    let info = try ACPITables.discover(rsdp: .v2(address: 0xA_0000, xsdtAddress: 0), memory: memory)
    XCTAssertEqual(info.tables.first?.header.signature, Array("RSDT".utf8))
    XCTAssertEqual(info.powerOff?.pm1aControlBlock, 0x604)
  }

  func testExtendedPM1ControlBlockUsedWhenLegacyFieldIsZero() throws {
    var fadt = F.FADT()
    fadt.dsdt = UInt32(Self.dsdtAddress)
    fadt.extendedPM1aControl = F.gas(space: 1, width: 16, access: 2, address: 0x1804)
    fadt.pm1bControl = 0x1904
    let info = try ACPITables.discover(
      rsdp: Self.qemuRSDP, memory: Self.qemuLikeMemory(fadt: fadt))
    XCTAssertEqual(info.powerOff?.pm1aControlBlock, 0x1804)
    XCTAssertEqual(info.powerOff?.pm1bControlBlock, 0x1904)
  }

  func testACPI1FADTWithoutExtendedFields() throws {
    var fadt = F.FADT()
    fadt.length = 116
    fadt.revision = 1
    fadt.dsdt = UInt32(Self.dsdtAddress)
    fadt.pm1aControl = 0x4004
    fadt.flags = 1 << 10  // RESET_REG lies beyond a 116-byte FADT, so the flag is moot.
    let info = try ACPITables.discover(
      rsdp: Self.qemuRSDP, memory: Self.qemuLikeMemory(fadt: fadt))
    XCTAssertEqual(info.powerOff?.pm1aControlBlock, 0x4004)
    XCTAssertNil(info.resetRegister)
  }

  func testHardwareReducedFADTHasNoPM1aControlBlock() throws {
    var fadt = F.FADT()
    fadt.dsdt = UInt32(Self.dsdtAddress)
    fadt.flags = 1 << 20
    let info = try ACPITables.discover(
      rsdp: Self.qemuRSDP, memory: Self.qemuLikeMemory(fadt: fadt))
    XCTAssertNil(info.powerOff)
    XCTAssertEqual(info.powerOffError, .pm1aControlBlockMissing)
    XCTAssertEqual(info.tables.count, 4, "the DSDT is still recorded")
  }
}
