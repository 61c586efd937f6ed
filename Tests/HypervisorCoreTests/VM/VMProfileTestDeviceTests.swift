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

/// `iommu=vtd|off` and `edu=on|off` (docs/virtual-iommu.md).
final class VMProfileVirtualIOMMUTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  func testOffUnlessAsked() throws {
    let plain = try parse("vm name=a kind=multiboot").get()
    XCTAssertFalse(plain.virtualIOMMU)
    XCTAssertFalse(plain.eduDevice)
    let both = try parse("vm name=a kind=multiboot testdev=on iommu=vtd edu=on -- x").get()
    XCTAssertTrue(both.virtualIOMMU)
    XCTAssertTrue(both.eduDevice)
    XCTAssertFalse(try parse("vm name=a iommu=off edu=off").get().virtualIOMMU)
  }

  func testBadValuesAreRefused() {
    XCTAssertEqual(parse("vm name=a iommu=amd"), .failure(.invalidValue(Array("iommu".utf8))))
    XCTAssertEqual(parse("vm name=a edu=1"), .failure(.invalidValue(Array("edu".utf8))))
  }
}
