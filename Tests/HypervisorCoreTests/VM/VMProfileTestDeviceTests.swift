import HypervisorCore
import XCTest

/// `testdev=on|off`: the pc-testdev and the 8259 pair for kvm-unit-tests.
final class VMProfileTestDeviceTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  func testNoTestDeviceUnlessAsked() throws {
    XCTAssertFalse(try parse("vm name=a kind=multiboot").get().testDevice)
    XCTAssertTrue(try parse("vm name=a kind=multiboot testdev=on -- x").get().testDevice)
    XCTAssertFalse(try parse("vm name=a testdev=off").get().testDevice)
  }

  func testABadValueIsRefused() {
    XCTAssertEqual(
      parse("vm name=a testdev=1"), .failure(.invalidValue(Array("testdev".utf8))))
  }
}
