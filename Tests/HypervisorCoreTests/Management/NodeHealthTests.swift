import HypervisorCore
import XCTest

/// The node's health rule (docs/lifecycle.md, "Node health").
final class NodeHealthTests: XCTestCase {
  private let gib: UInt64 = 1 << 30

  private func beat(_ milliseconds: UInt64, busyElsewhere: Bool = false) -> CPUHeartbeat {
    CPUHeartbeat(ageMilliseconds: milliseconds, busyElsewhere: busyElsewhere)
  }

  func testAHealthyNodeHasNoProblem() {
    XCTAssertEqual(
      NodeHealth.problems(
        heartbeats: [beat(3), beat(2000)], freeBytes: gib / 2, totalBytes: gib, failedVMs: 0),
      [])
  }

  func testACPUPastItsLoopForOver2sOutsideAGuestIsStalled() {
    let problems = NodeHealth.problems(
      heartbeats: [beat(1), beat(2001), beat(60_000, busyElsewhere: true), beat(9000)],
      freeBytes: gib / 2, totalBytes: gib, failedVMs: 0)
    XCTAssertEqual(
      problems, [.cpuStalled(cpu: 1, milliseconds: 2001), .cpuStalled(cpu: 3, milliseconds: 9000)],
      "a CPU in a guest's slice or asleep is not judged")
  }

  func testLowMemoryNeedsBothTheAbsoluteAndTheRelativeThreshold() {
    // 12 MiB free of 1 GiB: under 16 MiB and under 32 MiB (1/32).
    XCTAssertEqual(
      NodeHealth.problems(heartbeats: [], freeBytes: 12 << 20, totalBytes: gib, failedVMs: 0),
      [.lowMemory(freeBytes: 12 << 20)])
    // 12 MiB free of 256 MiB: over 1/32 (8 MiB): a small node, not short.
    XCTAssertEqual(
      NodeHealth.problems(heartbeats: [], freeBytes: 12 << 20, totalBytes: 256 << 20, failedVMs: 0),
      [])
    XCTAssertEqual(
      NodeHealth.problems(heartbeats: [], freeBytes: 16 << 20, totalBytes: 4 * gib, failedVMs: 0),
      [], "16 MiB is not under 16 MiB")
  }

  func testFailedVMsAndEveryProblemInOrder() {
    XCTAssertEqual(
      NodeHealth.problems(
        heartbeats: [beat(5000)], freeBytes: 1 << 20, totalBytes: gib, failedVMs: 3),
      [
        .cpuStalled(cpu: 0, milliseconds: 5000), .lowMemory(freeBytes: 1 << 20),
        .failedVMs(count: 3),
      ])
  }

  func testWhichEndsAreFailures() {
    let failures: [StopReason] = [
      .shutdown, .entryFailure(code: 33), .exitStorm(exits: 1000), .unexpectedExit(vendorCode: 7),
      .instructionFetchFailed(rip: 0x1000),
    ]
    let ends: [StopReason] = [
      .guestRequested(code: 0), .poweredOff, .reset, .operatorRequest,
      .haltedWithInterruptsDisabled, .haltedWithoutInterruptSource,
    ]
    XCTAssertEqual(failures.filter(\.isFailure).count, failures.count)
    XCTAssertEqual(ends.filter(\.isFailure).count, 0)
  }
}
