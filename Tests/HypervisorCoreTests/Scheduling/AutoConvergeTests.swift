import XCTest

@testable import HypervisorCore

/// Auto-converge's policy (docs/migration.md, "Auto-converge"): a round that does not halve
/// the dirty set raises the throttle, 20 % then +10 % a round up to 99 %; the hold keeps a
/// vCPU running 100 - p % of the time.
final class AutoConvergeTests: XCTestCase {
  func testTheThrottleRisesOnlyWhileTheDirtySetDoesNotHalve() {
    XCTAssertEqual(AutoConverge.next(current: 0, previous: nil, pages: 5000), 0, "after round 0")
    XCTAssertEqual(AutoConverge.next(current: 0, previous: 5000, pages: 2000), 0, "shrinking")
    XCTAssertEqual(AutoConverge.next(current: 0, previous: 5000, pages: 2501), 20)
    XCTAssertEqual(AutoConverge.next(current: 20, previous: 5000, pages: 5200), 30)
    XCTAssertEqual(AutoConverge.next(current: 30, previous: 5200, pages: 1000), 30, "kept")
    var throttle = 0
    var rounds: [Int] = []
    for _ in 0..<12 {
      throttle = AutoConverge.next(current: throttle, previous: 5000, pages: 5000)
      rounds.append(throttle)
    }
    XCTAssertEqual(rounds, [20, 30, 40, 50, 60, 70, 80, 90, 99, 99, 99, 99])
  }

  func testTheHoldKeepsTheVCPURunningTheRestOfTheTime() {
    XCTAssertEqual(AutoConverge.hold(ran: 1000, percent: 0), 0)
    XCTAssertEqual(AutoConverge.hold(ran: 1000, percent: 20), 250, "runs 1000 of 1250: 80 %")
    XCTAssertEqual(AutoConverge.hold(ran: 1000, percent: 50), 1000)
    XCTAssertEqual(AutoConverge.hold(ran: 1000, percent: 99), 99_000)
    XCTAssertEqual(AutoConverge.hold(ran: 1000, percent: 150), 99_000, "clamped to 99 %")
    XCTAssertEqual(AutoConverge.hold(ran: UInt64.max, percent: 50), UInt64.max / 2)
  }
}
