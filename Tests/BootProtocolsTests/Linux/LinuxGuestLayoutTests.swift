import XCTest

@testable import BootProtocols

/// Address choices for the kernel, initrd and command line (boot.rst, "64-bit Boot Protocol",
/// pref_address, kernel_alignment, initrd_addr_max, cmdline_size).
final class LinuxGuestLayoutTests: XCTestCase {
  static let mib: UInt64 = 1 << 20

  func layout(
    ram: UInt64, fixture: BzImageFixture = BzImageFixture(), initrd: UInt64 = 0,
    commandLine: String = "console=ttyS0"
  ) throws -> LinuxGuestLayout {
    try LinuxGuestLayout(
      ramSize: ram, image: fixture.parse(), initrdSize: initrd, commandLine: Array(commandLine.utf8)
    )
  }

  func testKernelAtPreferredAddressAndInitrdAtTheTopOfRAM() throws {
    let layout = try layout(ram: 256 * Self.mib, initrd: 0x12_3456)
    XCTAssertEqual(layout.kernelLoadAddress, 0x100_0000)
    XCTAssertEqual(layout.kernelRegion, PhysicalRange(start: 0x100_0000, end: 0x300_0000))
    XCTAssertEqual(layout.entryPoint, 0x100_0200)
    // Highest page-aligned start leaving room for the exact size below 256 MiB.
    XCTAssertEqual(layout.initrd, PhysicalRange(start: 0xFED_C000, end: 0xFED_C000 + 0x12_3456))
    XCTAssertEqual(layout.commandLine, Array("console=ttyS0".utf8) + [0])
    XCTAssertEqual(layout.ramSize, 256 * Self.mib)
  }

  func testNoInitrd() throws {
    XCTAssertNil(try layout(ram: 64 * Self.mib).initrd)
  }

  func testInitrdCeilingIsInitrdAddrMaxWithoutAbove4GFlag() throws {
    var fixture = BzImageFixture()
    fixture.extendedLoadFlags = 0x01
    fixture.initrdAddressMax = 0x37FF_FFFF
    let layout = try layout(ram: 2048 * Self.mib, fixture: fixture, initrd: 16 * Self.mib)
    XCTAssertEqual(layout.initrd, PhysicalRange(start: 0x3700_0000, end: 0x3800_0000))
  }

  func testInitrdGoesToRAMEndWithAbove4GFlag() throws {
    let layout = try layout(ram: 6144 * Self.mib, initrd: 16 * Self.mib)
    XCTAssertEqual(layout.initrd, PhysicalRange(start: 0x1_7F00_0000, end: 0x1_8000_0000))
  }

  func testInitrdFallsBelowTheKernelWhenItCannotGoAbove() throws {
    var fixture = BzImageFixture()
    fixture.preferredAddress = 0x400_0000
    fixture.initSize = 0x3C0_0000  // the kernel runs to exactly 124 MiB
    let layout = try layout(ram: 124 * Self.mib, fixture: fixture, initrd: 8 * Self.mib)
    XCTAssertEqual(layout.initrd, PhysicalRange(start: 0x380_0000, end: 0x400_0000))
  }

  func testRelocatableKernelMovesWhenPreferredAddressDoesNotFit() throws {
    var fixture = BzImageFixture()
    fixture.preferredAddress = 0x8000_0000  // beyond RAM
    XCTAssertEqual(try layout(ram: 64 * Self.mib, fixture: fixture).kernelLoadAddress, 0x100_0000)
    // Not even 16 MiB + init_size fits in 40 MiB: the first 2 MiB boundary above 1 MiB does.
    XCTAssertEqual(try layout(ram: 40 * Self.mib, fixture: fixture).kernelLoadAddress, 0x20_0000)
  }

  func testPreferredAddressBelowOneMiBIsNotUsed() throws {
    var fixture = BzImageFixture()
    fixture.preferredAddress = 0x1_0000
    XCTAssertEqual(try layout(ram: 64 * Self.mib, fixture: fixture).kernelLoadAddress, 0x100_0000)
  }

  func testRejections() {
    func expect(
      _ error: LinuxLayoutError, line: UInt = #line, _ make: () throws -> LinuxGuestLayout
    ) {
      XCTAssertThrowsError(try make(), line: line) { thrown in
        XCTAssertEqual(thrown as? LinuxLayoutError, error, line: line)
      }
    }
    expect(.ramTooSmall) { try self.layout(ram: 0xF_FFFF) }
    expect(.kernelDoesNotFit) { try self.layout(ram: 32 * Self.mib) }
    var fixed = BzImageFixture()
    fixed.relocatable = 0
    fixed.preferredAddress = 0x800_0000
    expect(.kernelDoesNotFit) { try self.layout(ram: 64 * Self.mib, fixture: fixed) }
    // 64 MiB of RAM, the kernel region is [16, 48) MiB: 15 MiB fit above, 15 MiB below.
    expect(.initrdDoesNotFit) { try self.layout(ram: 64 * Self.mib, initrd: 17 * Self.mib) }
    var short = BzImageFixture()
    short.commandLineSize = 8
    expect(.commandLineTooLong) {
      try self.layout(ram: 64 * Self.mib, fixture: short, commandLine: "123456789")
    }
    var huge = BzImageFixture()
    huge.commandLineSize = 0x10_0000
    expect(.commandLineTooLong) {
      try self.layout(
        ram: 64 * Self.mib, fixture: huge, commandLine: String(repeating: "x", count: 0x7FC00))
    }
    expect(.commandLineContainsNUL) { try self.layout(ram: 64 * Self.mib, commandLine: "a\u{0}b") }
  }

  func testCommandLineOfExactlyCmdlineSizeFits() throws {
    var fixture = BzImageFixture()
    fixture.commandLineSize = 9
    let layout = try layout(ram: 64 * Self.mib, fixture: fixture, commandLine: "123456789")
    XCTAssertEqual(layout.commandLine.count, 10)
  }
}
