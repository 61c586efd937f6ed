import XCTest

@testable import BootProtocols

final class KernelCommandLineTests: XCTestCase {
  private let line = Array("  console=serial,115200 debug  mem=64M  console=vga nosmp=".utf8)

  func testValueReturnsLastOccurrence() {
    XCTAssertEqual(KernelCommandLine.value(of: "console", in: line), Array("vga".utf8))
    XCTAssertEqual(KernelCommandLine.value(of: "mem", in: line), Array("64M".utf8))
  }

  func testValueMayBeEmpty() {
    XCTAssertEqual(KernelCommandLine.value(of: "nosmp", in: line), [])
  }

  func testValueIgnoresPrefixesAndFlags() {
    XCTAssertNil(KernelCommandLine.value(of: "con", in: line))
    XCTAssertNil(KernelCommandLine.value(of: "debug", in: line))
    XCTAssertNil(KernelCommandLine.value(of: "x", in: []))
  }

  func testContainsFlagMatchesWholeWordsOnly() {
    XCTAssertTrue(KernelCommandLine.contains(flag: "debug", in: line))
    XCTAssertFalse(KernelCommandLine.contains(flag: "deb", in: line))
    XCTAssertFalse(KernelCommandLine.contains(flag: "mem", in: line))
    XCTAssertFalse(KernelCommandLine.contains(flag: "debug", in: []))
  }
}
