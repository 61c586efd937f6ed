import HypervisorCore
import XCTest

/// `apic=on|off`: local APICs for flat guests.
final class VMProfileAPICTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  func testFlatGuestsHaveNoAPICUnlessAsked() throws {
    XCTAssertFalse(try parse("vm name=a").get().localAPIC)
    XCTAssertTrue(try parse("vm name=a apic=on cpus=2").get().localAPIC)
    XCTAssertFalse(try parse("vm name=a apic=off").get().localAPIC)
  }

  func testABadValueIsRefused() {
    XCTAssertEqual(parse("vm name=a apic=yes"), .failure(.invalidValue(Array("apic".utf8))))
  }
}
