import XCTest

@testable import BootProtocols

final class KernelCommandLineSecretsTests: XCTestCase {
  private let key = String(repeating: "0123456789abcdef", count: 4)

  func testRedactingHidesEveryValueOfTheKeyAndKeepsTheRest() {
    let line = Array("ip=10.0.2.15/24 cluster_key=\(key)  batch cluster_key=xyz".utf8)
    let redacted = String(
      decoding: KernelCommandLine.redacting("cluster_key", in: line), as: UTF8.self)
    XCTAssertEqual(
      redacted, "ip=10.0.2.15/24 cluster_key=<redacted>  batch cluster_key=<redacted>")
    XCTAssertFalse(redacted.contains("0123"))
  }

  func testRedactingLeavesSimilarWordsAlone() {
    let line = Array("cluster_keys=1 my_cluster_key=2 cluster_key".utf8)
    XCTAssertEqual(KernelCommandLine.redacting("cluster_key", in: line), line)
  }

  func testHexKeyDecodesBothCases() {
    let upper = key.uppercased()
    guard case .success(let bytes) = KernelCommandLine.hexKey(Array(upper.utf8)) else {
      return XCTFail("refused")
    }
    XCTAssertEqual(bytes.count, 32)
    XCTAssertEqual(Array(bytes.prefix(8)), [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef])
  }

  func testHexKeyRefusesWrongLengthAndNonHex() {
    XCTAssertEqual(KernelCommandLine.hexKey(Array("abcd".utf8)), .failure(.wrongLength(4)))
    XCTAssertEqual(KernelCommandLine.hexKey([]), .failure(.wrongLength(0)))
    var bad = Array(key.utf8)
    bad[63] = UInt8(ascii: "g")
    XCTAssertEqual(KernelCommandLine.hexKey(bad), .failure(.notHex))
  }
}
