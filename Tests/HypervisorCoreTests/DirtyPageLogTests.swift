import Memory
import XCTest

@testable import HypervisorCore

/// The dirty log's bookkeeping (docs/migration.md): device-model writes through
/// GuestMemoryMap are marked only while tracking, a snapshot moves the live set, and
/// a fault after it lands in the next one.
final class DirtyPageLogTests: XCTestCase {
  private func memory(_ log: DirtyPageLog, buffer: UnsafeMutableRawPointer) -> GuestMemoryMap {
    var map = GuestMemoryMap()
    map.add(
      GuestMemoryRegion(
        guestPhysical: 0, hostAddress: UInt64(UInt(bitPattern: buffer)), size: 64 * 4096))
    map.writeLog = Unmanaged.passUnretained(log).toOpaque()
    return map
  }

  func testDeviceWritesAreMarkedOnlyWhileTracking() {
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64 * 4096, alignment: 4096)
    defer { buffer.deallocate() }
    let log = DirtyPageLog()
    let map = memory(log, buffer: buffer)
    let bytes: [UInt8] = [1, 2, 3, 4]
    bytes.withUnsafeBytes { _ = map.write($0, to: 0x5000) }
    XCTAssertFalse(log.isTracking)

    log.lock.withLock { log.beginLocked(pageCount: 64) }
    XCTAssertEqual(log.live.dirtyCount, 64, "every page is dirty at the start")
    log.lock.withLock { log.takeSnapshotLocked() }
    XCTAssertEqual(log.snapshot.dirtyCount, 64)
    XCTAssertEqual(log.live.dirtyCount, 0)

    bytes.withUnsafeBytes { _ = map.write($0, to: 0x7FFE) }  // pages 7 and 8
    map.noteWrite(0x20_000, length: 1)  // page 32
    log.lock.withLock { log.noteFaultLocked(page: 40) }
    log.lock.withLock { log.takeSnapshotLocked() }
    var pages: [UInt64] = []
    log.snapshot.forEachDirty { pages.append($0) }
    XCTAssertEqual(pages, [7, 8, 32, 40])
    XCTAssertEqual(log.faults, 1)

    log.lock.withLock { log.endLocked() }
    bytes.withUnsafeBytes { _ = map.write($0, to: 0x9000) }
    XCTAssertFalse(log.isTracking)
    XCTAssertEqual(log.live.dirtyCount, 0)
  }
}
