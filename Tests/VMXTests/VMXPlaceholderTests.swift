import XCTest

@testable import VMX

final class VMXModuleTests: XCTestCase {
  func testModuleLinks() {
    XCTAssertEqual(String(describing: VMX.self), "VMX")
  }
}
