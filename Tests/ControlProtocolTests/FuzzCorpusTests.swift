import ControlProtocol
import Foundation
import XCTest

/// The control-datagram fuzz corpus (Fuzz/Corpus/control-datagram) must reach past the
/// version check: it holds sealed datagrams of the current protocol version that open with
/// the fuzz target's key, and none of an earlier version (refused at byte 4, they fuzz one
/// comparison). After a version change: `make fuzz-merge` (Fuzz/README.md).
final class FuzzCorpusTests: XCTestCase {
  private var corpus: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/control-datagram")
  }

  private func datagrams() throws -> [(name: String, bytes: [UInt8])] {
    try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted().compactMap {
      let bytes = [UInt8](try Data(contentsOf: corpus.appendingPathComponent($0)))
      return bytes.starts(with: Array("PGCP".utf8)) && bytes.count > 4 ? ($0, bytes) : nil
    }
  }

  func testNoSeedIsOfAnEarlierProtocolVersion() throws {
    let stale = try datagrams().filter {
      $0.bytes[4] >= 1 && $0.bytes[4] < DatagramHeader.currentVersion
    }
    XCTAssertEqual(
      stale.map(\.name), [],
      "seeds of an earlier version: run `make fuzz-merge` (it prunes them and adds fresh ones)")
  }

  func testSealedSeedsOfTheCurrentVersionOpenWithTheFuzzKey() throws {
    let key = HMACSHA256(key: Array("fuzzing cluster key".utf8))
    let opened = try datagrams().filter { (try? Datagram.open($0.bytes, with: key)) != nil }
    XCTAssertGreaterThanOrEqual(
      opened.count, 5, "the corpus reaches the request decoder with current-version datagrams")
  }
}
