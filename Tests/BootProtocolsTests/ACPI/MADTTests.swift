import XCTest

@testable import BootProtocols

/// Interrupt controller structures of the MADT (ACPI 6.4 §5.2.12).
final class MADTTests: XCTestCase {
  typealias F = ACPIFixture

  private func read(_ table: [UInt8]) -> ACPIInformation {
    var info = ACPIInformation()
    table.withUnsafeBytes { MADT.read(TableBytes($0), into: &info) }
    return info
  }

  func testX2APICAndOverride() {
    let info = read(
      F.madt(
        flags: 0,
        entries: [
          F.localAPICOverride(0x1_FEE0_0000),
          F.x2APIC(id: 0x100, flags: 1, uid: 7),
          F.x2APIC(id: 0x101, flags: 3, uid: 8),
        ]))
    XCTAssertEqual(info.localAPICAddress, 0x1_FEE0_0000)
    XCTAssertFalse(info.hasLegacyPICs)
    XCTAssertEqual(
      info.processors,
      [
        ACPIProcessor(processorUID: 7, apicID: 0x100, enabled: true, onlineCapable: false),
        ACPIProcessor(processorUID: 8, apicID: 0x101, enabled: true, onlineCapable: true),
      ])
  }

  func testUnknownAndShortStructuresAreSkipped() {
    let interruptOverride: [UInt8] = [2, 10, 0, 0, 2, 0, 0, 0, 0, 0]  // type 2, not used
    let shortLocalAPIC: [UInt8] = [0, 6, 9, 9, 1, 0]
    let info = read(
      F.madt(entries: [
        interruptOverride, shortLocalAPIC, F.ioAPIC(id: 2, address: 0xFEC0_1000, gsiBase: 24),
        F.localAPIC(uid: 3, apicID: 6, flags: 1),
      ]))
    XCTAssertEqual(
      info.processors,
      [
        ACPIProcessor(processorUID: 3, apicID: 6, enabled: true, onlineCapable: false)
      ])
    XCTAssertEqual(info.ioAPICs, [ACPIIOAPIC(id: 2, address: 0xFEC0_1000, gsiBase: 24)])
  }

  func testZeroLengthOrOverrunningStructureEndsTheWalk() {
    let zeroLength = read(
      F.madt(entries: [
        F.localAPIC(uid: 0, apicID: 0, flags: 1), [0, 0], F.localAPIC(uid: 1, apicID: 1, flags: 1),
      ]))
    XCTAssertEqual(zeroLength.processors.count, 1)

    let overrun = read(F.madt(entries: [F.localAPIC(uid: 0, apicID: 0, flags: 1), [9, 16, 0, 0]]))
    XCTAssertEqual(overrun.processors.count, 1)
    XCTAssertEqual(overrun.localAPICAddress, 0xFEE0_0000)
  }

  func testTooShortForFixedPart() {
    let info = read(Array(F.madt(entries: []).prefix(40)))
    XCTAssertNil(info.localAPICAddress)
  }
}
