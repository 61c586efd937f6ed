import HypervisorCore
import XCTest

/// `nic=MAC[,MAC...]`: the guest NICs of a boot-time VM (docs/guest-io.md).
final class VMProfileNICTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  func testNoNICUnlessAsked() throws {
    XCTAssertEqual(try parse("vm name=a").get().nicMACs, [])
    XCTAssertEqual(
      try parse("vm name=a nic=52:54:00:12:34:56").get().nicMACs,
      [[0x52, 0x54, 0x00, 0x12, 0x34, 0x56]])
    XCTAssertEqual(
      try parse("vm name=a nic=52:54:00:12:34:56,02:AB:cd:00:00:01 kind=linux").get().nicMACs,
      [[0x52, 0x54, 0x00, 0x12, 0x34, 0x56], [0x02, 0xAB, 0xCD, 0x00, 0x00, 0x01]])
  }

  func testMalformedGroupZeroRepeatedAndTooManyAreRefused() {
    let refused = VMProfileError.invalidValue(Array("nic".utf8))
    for value in [
      "52:54:00:12:34", "52:54:00:12:34:5g", "52-54-00-12-34-56", "01:00:5e:00:00:01",
      "00:00:00:00:00:00", "52:54:00:12:34:56,52:54:00:12:34:56", "52:54:00:12:34:56,",
      (1...9).map { "52:54:00:00:00:0\($0)" }.joined(separator: ","),
    ] {
      XCTAssertEqual(parse("vm name=a nic=\(value)"), .failure(refused), value)
    }
    XCTAssertEqual(
      parse("vm name=a nic=52:54:00:12:34:56 nic=52:54:00:12:34:57"),
      .failure(.repeatedKey(Array("nic".utf8))))
  }
}
