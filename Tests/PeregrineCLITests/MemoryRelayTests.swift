import Foundation
import XCTest

@testable import PeregrineCommands

/// Migration's round 0 relay (docs/migration.md): every chunk put is written once, in
/// batches, on the relay's thread; a failed write is reported by `finish` and nothing after
/// it is written.
final class MemoryRelayTests: XCTestCase {
  func testEveryChunkIsWrittenOnceAndWritingStartsBeforeTheEnd() throws {
    let lock = NSLock()
    var written: [UInt64] = []
    var onMainThread = false
    let relay = MemoryRelay(batch: 100) { batch in
      lock.lock()
      defer { lock.unlock() }
      written += batch.map(\.offset)
      if Thread.isMainThread { onMainThread = true }
    }
    func count() -> Int {
      lock.lock()
      defer { lock.unlock() }
      return written.count
    }
    for index in 0..<150 { relay.put((offset: UInt64(index) * 1024, bytes: [UInt8(index)])) }
    // A full batch is written while the reader is still going (no `finish` yet).
    let deadline = Date().addingTimeInterval(10)
    while count() < 100 && Date() < deadline { usleep(1000) }
    XCTAssertGreaterThanOrEqual(count(), 100)
    for index in 150..<1050 {
      relay.put((offset: UInt64(index) * 1024, bytes: [UInt8(index & 0xff)]))
    }
    try relay.finish()
    XCTAssertEqual(written, (0..<1050).map { UInt64($0) * 1024 })
    XCTAssertFalse(onMainThread)
    XCTAssertFalse(relay.hasFailed)
  }

  func testAFailedWriteIsReportedAndTheRestDropped() {
    struct TargetDied: Error {}
    let lock = NSLock()
    var calls = 0
    let relay = MemoryRelay(batch: 10) { _ in
      lock.lock()
      defer { lock.unlock() }
      calls += 1
      throw TargetDied()
    }
    for index in 0..<100 { relay.put((offset: UInt64(index) * 1024, bytes: [1])) }
    XCTAssertThrowsError(try relay.finish()) { XCTAssertTrue($0 is TargetDied) }
    XCTAssertTrue(relay.hasFailed)
    lock.lock()
    XCTAssertEqual(calls, 1)
    lock.unlock()
  }
}
