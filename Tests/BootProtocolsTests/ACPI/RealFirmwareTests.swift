import XCTest

@testable import BootProtocols

/// Runs discovery over this machine's own FADT, DSDT and MADT (root only), the DSDT at the
/// address the FADT names, behind a synthetic RSDP and XSDT. Skipped when unreadable.
final class RealFirmwareTests: XCTestCase {
  typealias F = ACPIFixture

  private func table(_ name: String) throws -> [UInt8] {
    let path = "/sys/firmware/acpi/tables/" + name
    guard let data = FileManager.default.contents(atPath: path) else {
      throw XCTSkip("\(path) is not readable")
    }
    return [UInt8](data)
  }

  func testDiscoverOverRealTables() throws {
    let fadt = try table("FACP")
    let dsdt = try table("DSDT")
    let madt = try table("APIC")
    let dsdtAddress: UInt64 = fadt.withUnsafeBytes { raw in
      let bytes = TableBytes(raw)
      if bytes.count >= 148, bytes.u64(at: 140) != 0 { return bytes.u64(at: 140) }
      return UInt64(bytes.u32(at: 40))
    }
    // Synthetic structures live at 0x7F00_0000_0000, far from any real table address.
    let base: UInt64 = 0x7F00_0000_0000
    try XCTSkipIf(dsdtAddress == 0 || dsdtAddress >> 40 == base >> 40, "unusable DSDT address")
    let memory = FakePhysicalMemory()
    memory.place(F.rsdpV2(rsdt: 0, xsdt: base + 0x1000), at: base)
    memory.place(F.xsdt([base + 0x2000, base + 0x8000]), at: base + 0x1000)
    memory.place(fadt, at: base + 0x2000)
    memory.place(madt, at: base + 0x8000)
    memory.place(dsdt, at: dsdtAddress)

    let info = try ACPITables.discover(
      rsdp: .v2(address: base, xsdtAddress: base + 0x1000), memory: memory)
    XCTAssertEqual(info.tables.count, 4)
    XCTAssertTrue(info.tables.allSatisfy(\.header.checksumValid))
    XCTAssertEqual(info.powerOff == nil, info.powerOffError != nil)
    XCTAssertGreaterThanOrEqual(info.processors.filter(\.enabled).count, 1)
    XCTAssertNotNil(info.localAPICAddress)
  }
}
