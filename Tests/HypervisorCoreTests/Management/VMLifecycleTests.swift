import XCTest

@testable import HypervisorCore

final class VMLifecycleTests: XCTestCase {
  func testTheWholeLife() {
    var state = VMLifecycle.creating
    for (event, expected) in [
      (VMLifecycle.Event.started, VMLifecycle.running), (.pauseRequested, .pausing),
      (.allParked, .paused), (.unpauseRequested, .running), (.pauseRequested, .pausing),
      (.allParked, .paused), (.stopRequested, .stopping), (.released, .gone),
    ] {
      guard case .success(let next) = state.applying(event) else {
        return XCTFail("\(event) refused in \(state)")
      }
      XCTAssertEqual(next, expected)
      state = next
    }
  }

  func testStopFromEveryLiveState() {
    for state in [VMLifecycle.running, .pausing, .paused] {
      XCTAssertEqual(state.applying(.stopRequested), .success(.stopping))
    }
  }

  func testCreationThatFailsIsGone() {
    XCTAssertEqual(VMLifecycle.creating.applying(.failed), .success(.gone))
  }

  func testIllegalTransitionsAreRefusedWithTheirReason() {
    XCTAssertEqual(VMLifecycle.paused.applying(.pauseRequested), .failure(.alreadyPaused))
    XCTAssertEqual(VMLifecycle.pausing.applying(.pauseRequested), .failure(.alreadyPaused))
    XCTAssertEqual(VMLifecycle.running.applying(.unpauseRequested), .failure(.notPaused))
    XCTAssertEqual(VMLifecycle.pausing.applying(.unpauseRequested), .failure(.notPaused))
    XCTAssertEqual(VMLifecycle.stopping.applying(.stopRequested), .failure(.stopping))
    XCTAssertEqual(VMLifecycle.stopping.applying(.pauseRequested), .failure(.stopping))
    XCTAssertEqual(VMLifecycle.gone.applying(.unpauseRequested), .failure(.stopping))
    XCTAssertEqual(VMLifecycle.creating.applying(.pauseRequested), .failure(.stillCreating))
    XCTAssertEqual(VMLifecycle.running.applying(.released), .failure(.illegalTransition))
    XCTAssertEqual(VMLifecycle.running.applying(.allParked), .failure(.illegalTransition))
    XCTAssertEqual(VMLifecycle.paused.applying(.started), .failure(.illegalTransition))
  }
}
