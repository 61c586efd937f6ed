import XCTest

@testable import HypervisorCore

/// The node's migration leases (docs/migration.md, "A CLI that dies"): a lapsed source lease
/// resumes only a VM the migration paused and never one handed over; a lapsed target lease
/// destroys the incoming copy; renewal and length are per VM.
final class MigrationLeasesTests: XCTestCase {
  private let vm = Array("vm".utf8)
  private let other = Array("other".utf8)

  func testASourceLeaseLapsesAfterItsLengthAndResumesWhatTheMigrationPaused() {
    var leases = MigrationLeases()
    leases.begin(vm, role: .source, now: 1000)
    XCTAssertEqual(leases.nextDeadline, 1000 + MigrationLeases.defaultMilliseconds)
    leases.renew(vm, now: 20_000)
    XCTAssertEqual(leases.expire(now: 45_000), [], "renewed at 20 s: good until 50 s")
    leases.paused(vm)
    XCTAssertEqual(leases.expire(now: 50_000), [.abandonSource(name: vm, resume: true)])
    XCTAssertNil(leases.lease(of: vm), "a lapsed lease is gone")
    XCTAssertEqual(leases.expire(now: 90_000), [])
    XCTAssertNil(leases.nextDeadline)
  }

  func testAVMPausedBeforeOrUnpausedSinceStaysAsItIs() {
    var leases = MigrationLeases()
    leases.begin(vm, role: .source, now: 0)
    XCTAssertEqual(leases.expire(now: 30_000), [.abandonSource(name: vm, resume: false)])
    leases.begin(vm, role: .source, now: 0)
    leases.paused(vm)
    leases.unpaused(vm)
    XCTAssertEqual(leases.expire(now: 30_000), [.abandonSource(name: vm, resume: false)])
  }

  func testAHandedOverSourceIsNeverResumed() {
    var leases = MigrationLeases()
    leases.begin(vm, role: .source, now: 0)
    leases.paused(vm)
    XCTAssertTrue(leases.handOver(vm))
    XCTAssertEqual(leases.expire(now: 30_000), [.abandonSource(name: vm, resume: false)])
    // Only a source can be handed over, and only under a lease.
    leases.begin(vm, role: .target, now: 0)
    XCTAssertFalse(leases.handOver(vm))
    XCTAssertFalse(leases.handOver(other))
  }

  func testATargetLeaseDestroysTheCopyAndEndsAtTheCommit() {
    var leases = MigrationLeases()
    leases.begin(vm, role: .target, now: 0)
    leases.paused(vm)  // not a source: nothing to resume
    leases.begin(other, role: .target, now: 0)
    leases.end(other)  // restored: committed
    XCTAssertEqual(leases.expire(now: 29_999), [])
    XCTAssertEqual(leases.expire(now: 30_000), [.destroyIncoming(name: vm)])
  }

  func testTheLengthIsClampedAndRenewsPerVM() {
    var leases = MigrationLeases()
    leases.begin(vm, role: .source, now: 0)
    leases.begin(other, role: .target, now: 0)
    XCTAssertTrue(leases.setLength(vm, milliseconds: 5, now: 100))
    XCTAssertEqual(leases.lease(of: vm)?.deadline, 100 + MigrationLeases.shortestMilliseconds)
    XCTAssertTrue(leases.setLength(other, milliseconds: 1 << 40, now: 100))
    XCTAssertEqual(leases.lease(of: other)?.deadline, 100 + MigrationLeases.longestMilliseconds)
    XCTAssertFalse(leases.setLength(Array("none".utf8), milliseconds: 5000, now: 0))
    XCTAssertEqual(leases.nextDeadline, 1100)
    leases.renew(vm, now: 2000)
    XCTAssertEqual(leases.lease(of: vm)?.deadline, 3000, "renewed by its own length")
    XCTAssertEqual(leases.expire(now: 3000), [.abandonSource(name: vm, resume: false)])
    XCTAssertNotNil(leases.lease(of: other))
  }
}
