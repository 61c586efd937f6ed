import HypervisorCore
import XCTest

final class IdentifierPoolTests: XCTestCase {
  func testHandsOutTagsInSequence() {
    var pool = IdentifierPool(limit: 5)
    XCTAssertEqual(pool.available, 4)
    for expected in UInt32(1)...4 {
      let tag = pool.acquire()
      XCTAssertEqual(tag?.tag, expected)
      XCTAssertEqual(tag?.needsFlush, false, "a fresh tag has no stale translations")
    }
    XCTAssertEqual(pool.available, 0)
  }

  func testExhaustionReturnsNil() {
    var pool = IdentifierPool(limit: 3)
    XCTAssertNotNil(pool.acquire())
    XCTAssertNotNil(pool.acquire())
    XCTAssertNil(pool.acquire())
    XCTAssertNil(pool.acquire(), "still nil")
    XCTAssertEqual(pool.available, 0)
  }

  func testRecycledTagNeedsAFlush() {
    var pool = IdentifierPool(limit: 3)
    let first = pool.acquire()!.tag
    _ = pool.acquire()
    pool.release(first)
    XCTAssertEqual(pool.available, 1)
    let again = pool.acquire()
    XCTAssertEqual(again?.tag, first)
    XCTAssertEqual(again?.needsFlush, true)
    XCTAssertEqual(pool.available, 0)
    XCTAssertNil(pool.acquire())
  }

  func testFreshTagsBeforeRecycledOnes() {
    var pool = IdentifierPool(limit: 4)
    let first = pool.acquire()!.tag
    pool.release(first)
    XCTAssertEqual(pool.available, 3)
    XCTAssertEqual(pool.acquire()?.tag, 2, "never used tags first: no flush needed")
    XCTAssertEqual(pool.acquire()?.tag, 3)
    XCTAssertEqual(pool.acquire()?.needsFlush, true)
  }

  func testCustomFirstAndEmptyRange() {
    var vpids = IdentifierPool(first: 1, limit: 0x1_0000)
    XCTAssertEqual(vpids.available, 0xFFFF)
    XCTAssertEqual(vpids.acquire()?.tag, 1)
    var empty = IdentifierPool(first: 1, limit: 1)
    XCTAssertEqual(empty.available, 0)
    XCTAssertNil(empty.acquire())
    var inverted = IdentifierPool(first: 5, limit: 2)
    XCTAssertEqual(inverted.available, 0)
    XCTAssertNil(inverted.acquire())
  }
}
