import ControlProtocol
import XCTest

final class RetransmissionTests: XCTestCase {
  func testBacksOffThenGivesUpSayingTheNodeDidNotAnswer() {
    var machine = Retransmission()
    XCTAssertEqual(machine.start(now: 1000), .send(deadline: 1250))
    XCTAssertEqual(machine.timeout(now: 1100), .wait(deadline: 1250), "not yet")
    XCTAssertEqual(machine.timeout(now: 1250), .send(deadline: 1750))
    XCTAssertEqual(machine.timeout(now: 1750), .send(deadline: 2750))
    XCTAssertEqual(machine.timeout(now: 2750), .send(deadline: 4750))
    XCTAssertEqual(machine.timeout(now: 4750), .send(deadline: 6750), "capped at 2 s")
    XCTAssertEqual(machine.timeout(now: 6750), .send(deadline: 8750))
    XCTAssertEqual(machine.attempts, 6)
    XCTAssertEqual(
      machine.timeout(now: 8750), .giveUp(NoAnswer(attempts: 6, waitedMilliseconds: 7750)))
    XCTAssertEqual(machine.state, .gaveUp)
  }

  func testAnAnswerEndsIt() {
    var machine = Retransmission(
      policy: RetransmissionPolicy(initialTimeout: 10, maximumTimeout: 10, maximumAttempts: 2))
    XCTAssertEqual(machine.start(now: 0), .send(deadline: 10))
    machine.answered()
    XCTAssertEqual(machine.state, .answered)
    XCTAssertEqual(machine.attempts, 1)
  }

  /// The whole exchange with both sides pure: the first answer is lost, the client's
  /// retransmission gets the cached answer, and the node executed the request once.
  func testRetransmitThenDuplicateGetsTheCachedResponse() throws {
    var node = ControlReceiver(key: clusterKey, epoch: nodeEpoch)
    var client = ClientSession(key: clusterKey, clientID: 1, firstSequence: 1, epoch: nodeEpoch)
    var machine = Retransmission()
    let outgoing = try client.seal(.unpause(name: bytes("vm")))
    var executed = 0
    var now: UInt64 = 0
    var answer: ClientSession.Answer?
    var action = machine.start(now: now)
    while answer == nil, case .send(let deadline) = action {
      let reply: [UInt8]
      switch node.receive(outgoing.bytes) {
      case .execute(let accepted):
        executed += 1
        reply = node.respond(to: accepted, with: .done)
      case .send(let bytes): reply = bytes
      case .drop(let reason): return XCTFail("\(reason)")
      }
      if machine.attempts == 1 {
        now = deadline  // the first answer is lost
        action = machine.timeout(now: now)
        continue
      }
      answer = client.interpret(reply, for: outgoing)
      machine.answered()
    }
    XCTAssertEqual(answer, .response(.done))
    XCTAssertEqual(executed, 1)
    XCTAssertEqual(machine.attempts, 2)
    XCTAssertEqual(node.counters.duplicates, 1)
  }
}
