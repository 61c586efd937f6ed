import XCTest

@testable import PeregrineCommands

/// `peregrine nodes` with dead nodes and machine-check health, and `node inject-mce`
/// (docs/node-health.md).
final class NodeHealthCommandTests: XCTestCase {
  func testADeadNodeIsARowWithItsLastAnswerNotAFailure() throws {
    let harness = try Harness(nodes: ["node0": FakeNode(), "node1": FakeNode()])
    XCTAssertEqual(harness.run("nodes"), 0)
    let answeredAt = harness.clock
    harness.clock = harness.clock.addingTimeInterval(600)
    harness.nodes["node1"]!.failure = .unreachable(node: "node1", waitedSeconds: 2)
    XCTAssertEqual(harness.run("nodes", "--json"), 0, "one node answered: the command succeeds")
    let rows = try XCTUnwrap(try harness.json()["nodes"] as? [[String: Any]])
    XCTAssertEqual(rows.map { $0["dead"] as? Bool }, [false, true])
    XCTAssertEqual(rows[1]["last_answer"] as? String, Formatting.timestamp(answeredAt))
    XCTAssertEqual(
      rows[1]["health"] as? String,
      "dead (no answer), last answer \(Formatting.timestamp(answeredAt))")
    XCTAssertTrue(harness.errors.contains("node1"), "still warned about: \(harness.errors)")
    let table = try harness.environment.state.readNodes()
    XCTAssertEqual(table.nodes.map(\.lastAnswerAt), [harness.clock, answeredAt])
    // Every node gone: the command has nothing to show and fails.
    harness.running.removeAll()
    XCTAssertEqual(harness.run("nodes"), 69)
    XCTAssertTrue(harness.output.contains("dead (not running)"), harness.output)
  }

  func testANodeThatNeverAnsweredSaysSo() throws {
    let harness = try Harness(nodes: ["node0": FakeNode(), "node1": FakeNode()])
    harness.running.remove(501)
    XCTAssertEqual(harness.run("nodes"), 0)
    XCTAssertTrue(harness.output.contains("dead (not running), never answered"), harness.output)
  }

  func testMachineCheckCountsAndHistoryAreShown() throws {
    let node = FakeNode()
    node.report.health = "degraded"
    node.report.healthProblems = ["4 corrected machine-check errors in the last 60 s (bank 1)"]
    node.report.correctedMachineChecks = 4
    node.report.healthHistory = [
      HealthHistoryEntry(
        secondsSinceBoot: 3.5, kind: "correctedMachineCheck",
        detail: "1 corrected machine-check error on CPU 0 bank 1")
    ]
    let harness = try Harness(nodes: ["node0": node])
    XCTAssertEqual(harness.run("nodes", "--json"), 0)
    let report = try XCTUnwrap(
      (try harness.json()["nodes"] as? [[String: Any]])?.first?["report"] as? [String: Any])
    XCTAssertEqual(report["corrected_machine_checks"] as? Int, 4)
    let history = try XCTUnwrap(report["health_history"] as? [[String: Any]])
    XCTAssertEqual(history.first?["kind"] as? String, "correctedMachineCheck")
    XCTAssertEqual(history.first?["seconds_since_boot"] as? Double, 3.5)
    XCTAssertEqual(harness.run("nodes"), 0)
    XCTAssertTrue(
      harness.output.contains(
        "node0 health history:\n         3.5 s  1 corrected machine-check error on CPU 0 bank 1\n"),
      harness.output)
  }

  func testInjectMCESendsQEMUsCommandCountTimes() throws {
    let harness = try Harness(nodes: ["node0": FakeNode()])
    XCTAssertEqual(harness.run("node", "inject-mce", "node0", "--bank", "2", "--count", "3"), 0)
    XCTAssertEqual(harness.monitorCalls.count, 3)
    XCTAssertEqual(
      harness.monitorCalls.first?.commands, ["mce 0 2 0x9400000000000001 0x0 0x3000 0x0"])
    XCTAssertTrue(harness.monitorCalls[0].socket.hasSuffix("/nodes/node0/monitor.sock"))
    XCTAssertEqual(harness.sleeps, 2, "spaced by the interval, none after the last")
    harness.monitorAnswer = "MCE injection not supported"
    XCTAssertEqual(harness.run("node", "inject-mce", "node0"), 77)
    XCTAssertTrue(harness.errors.contains("not supported"), harness.errors)
    XCTAssertEqual(harness.run("node", "inject-mce", "node9"), 64)
  }

  func testQEMUArgumentsGiveTheMonitorSocket() {
    let arguments = NodeBoot.qemuArguments(
      iso: "/n/boot.iso", log: "/n/serial.log", hostPort: 47100, nodeIndex: 0, memory: "512M",
      cpus: 2, monitor: "/n/monitor.sock")
    let at = arguments.firstIndex(of: "-monitor")
    XCTAssertEqual(at.map { arguments[$0 + 1] }, "unix:/n/monitor.sock,server=on,wait=off")
    XCTAssertNil(NodeBoot.monitorSocket(nodeDirectory: "/" + String(repeating: "d", count: 100)))
    XCTAssertEqual(NodeBoot.monitorSocket(nodeDirectory: "/n"), "/n/monitor.sock")
  }

  func testMonitorOutputLosesTheEcho() {
    let output = Array("mce 0 1 0x9 0x0 0x0 0x0\r\nInvalid MCE bank number\r\n".utf8)
    XCTAssertEqual(
      QEMUMonitor.clean(output, command: "mce 0 1 0x9 0x0 0x0 0x0"), "Invalid MCE bank number")
    XCTAssertEqual(QEMUMonitor.clean(Array("mce 0 1\r\n".utf8), command: "mce 0 1"), "")
  }
}
