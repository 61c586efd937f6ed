import HypervisorCore
import XCTest

/// `rng=on|off`: a virtio-rng function on the VM's PCI bus.
final class VMProfileEntropyTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  func testNoEntropyDeviceUnlessAsked() throws {
    XCTAssertFalse(try parse("vm name=a kind=linux").get().entropyDevice)
    XCTAssertTrue(try parse("vm name=a kind=linux rng=on -- console=ttyS0").get().entropyDevice)
    XCTAssertFalse(try parse("vm name=a rng=off").get().entropyDevice)
  }

  func testABadValueIsRefused() {
    XCTAssertEqual(parse("vm name=a rng=yes"), .failure(.invalidValue(Array("rng".utf8))))
  }
}
