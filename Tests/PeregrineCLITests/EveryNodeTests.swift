import ControlProtocol
import Foundation
import XCTest

@testable import PeregrineCommands

/// `EveryNode` asks all nodes at once (docs/cli.md, "A node that does not answer"): three
/// slow answers cost one wait, not three, and come back in the nodes' order.
final class EveryNodeTests: XCTestCase {
  func testSlowNodesAreAskedAtOnceAndAnsweredInOrder() {
    let started = Date()
    let answers = EveryNode.ask(3) { index -> Int in
      Thread.sleep(forTimeInterval: 0.4)
      return index * 10
    }
    let took = Date().timeIntervalSince(started)
    XCTAssertEqual(answers, [0, 10, 20])
    XCTAssertLessThan(took, 1.1, "asked one after another it takes 1.2 s")
  }

  func testOneNodeAndNoneAreAskedInPlace() {
    XCTAssertEqual(EveryNode.ask(1) { $0 + 7 }, [7])
    XCTAssertEqual(EveryNode.ask(0) { $0 }, [])
  }

  func testTheListingGivesUpOnADeadNodeSooner() {
    func givesUp(_ policy: RetransmissionPolicy) -> NoAnswer? {
      var machine = Retransmission(policy: policy)
      var action = machine.start(now: 0)
      for _ in 0..<100 {
        switch action {
        case .send(let deadline), .wait(let deadline): action = machine.timeout(now: deadline)
        case .giveUp(let noAnswer): return noAnswer
        }
      }
      return nil
    }
    XCTAssertEqual(givesUp(ControlConnection.listingPatience)?.waitedMilliseconds, 3750)
    XCTAssertEqual(givesUp(RetransmissionPolicy())?.waitedMilliseconds, 7750)
  }
}
