import XCTest

@testable import HypervisorCore

final class VMIdentifierPoolTests: XCTestCase {
  func testHandsOutLowestFirstAndRunsOut() {
    var pool = VMIdentifierPool(capacity: 3)
    XCTAssertEqual(pool.acquire(), 0)
    XCTAssertEqual(pool.acquire(), 1)
    XCTAssertEqual(pool.acquire(), 2)
    XCTAssertNil(pool.acquire())
    XCTAssertEqual(pool.available, 0)
  }

  func testReusesOnlyAfterRelease() {
    var pool = VMIdentifierPool(capacity: 2)
    let first = pool.acquire()
    let second = pool.acquire()
    XCTAssertNotEqual(first, second)
    XCTAssertNil(pool.acquire(), "no identity is reused while its VM lives")
    XCTAssertTrue(pool.release(0))
    XCTAssertFalse(pool.isInUse(0))
    XCTAssertEqual(pool.acquire(), 0)
  }

  func testReleasingAFreeOrUnknownIdentityChangesNothing() {
    var pool = VMIdentifierPool(capacity: 2)
    _ = pool.acquire()
    let before = pool
    XCTAssertFalse(pool.release(1))
    XCTAssertFalse(pool.release(7))
    XCTAssertFalse(pool.release(-1))
    XCTAssertEqual(pool, before)
  }
}
