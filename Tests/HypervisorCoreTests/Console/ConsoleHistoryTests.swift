import XCTest

@testable import HypervisorCore

final class ConsoleHistoryTests: XCTestCase {
  private func history(_ text: String, capacity: Int) -> ConsoleHistory {
    var history = ConsoleHistory(capacity: capacity)
    for byte in text.utf8 { history.append(byte) }
    return history
  }

  func testReadsFromAnOffsetWithinWhatIsKept() {
    let kept = history("hello world", capacity: 64)
    XCTAssertEqual(kept.written, 11)
    let (offset, bytes) = kept.read(from: 6, maximum: 100)
    XCTAssertEqual(offset, 6)
    XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "world")
    XCTAssertEqual(kept.read(from: 0, maximum: 5).bytes, Array("hello".utf8))
  }

  func testAReaderThatFellBehindGetsTheOldestKeptBytesAndTheirOffset() {
    let kept = history("0123456789abcdef", capacity: 10)
    XCTAssertEqual(kept.oldestKept, 6)
    let (offset, bytes) = kept.read(from: 2, maximum: 100)
    XCTAssertEqual(offset, 6)
    XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "6789abcdef")
    XCTAssertEqual(String(decoding: kept.read(from: 12, maximum: 3).bytes, as: UTF8.self), "cde")
  }

  func testNothingPastWhatWasWritten() {
    let kept = history("abc", capacity: 4)
    let (offset, bytes) = kept.read(from: 3, maximum: 10)
    XCTAssertEqual(offset, 3)
    XCTAssertTrue(bytes.isEmpty)
    XCTAssertTrue(kept.read(from: 99, maximum: 10).bytes.isEmpty)
    XCTAssertTrue(ConsoleHistory(capacity: 4).read(from: 0, maximum: 10).bytes.isEmpty)
  }
}
