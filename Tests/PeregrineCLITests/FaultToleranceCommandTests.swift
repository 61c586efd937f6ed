import FaultTolerance
import XCTest

@testable import PeregrineCommands

/// `peregrine ft run`, `ft simulate` and `ft trace` through the CLI (docs/fault-tolerance.md).
final class FaultToleranceCommandTests: XCTestCase {
  /// node0 runs VM "a" and has logged 4 corrected errors in bank 1; node1 is healthy with
  /// room.
  func sickCluster() throws -> Harness {
    let sick = FakeNode(machines: [
      MachineSummary(name: "a", state: .running, vcpus: 1, memory: 128 << 20, uptimeSeconds: 5)
    ])
    sick.report.health = "degraded"
    sick.report.correctedMachineChecks = 4
    sick.report.healthHistory = (1...4).map {
      HealthHistoryEntry(
        secondsSinceBoot: Double($0), kind: "correctedMachineCheck",
        detail: "1 corrected machine-check error on CPU 0 bank 1", cpu: 0, bank: 1, count: 1)
    }
    return try Harness(nodes: ["node0": sick, "node1": FakeNode()])
  }

  /// The daemon runs `peregrine migrate`'s own code: here it stops where that command
  /// would (no recorded profile for "a"), and its words are the action's failure.
  func testRunOnceCarriesOutTheMigrationAndReportsWhyItFailed() throws {
    let harness = try sickCluster()
    XCTAssertEqual(harness.run("ft", "run", "--policy", "threshold", "--once"), 1)
    XCTAssertTrue(
      harness.output.contains("node0 degraded, 1 VM (corrected errors bank 1: 4)"), harness.output)
    XCTAssertTrue(
      harness.output.contains(
        "migrate a from node0 to node1 (4 corrected errors in bank 1 within 3600 s, threshold 3): failed: no profile is recorded for VM 'a' (it was not created by this peregrine)"
      ), harness.output)
    XCTAssertTrue(harness.errors.contains("1 action could not be carried out"), harness.errors)
    XCTAssertEqual(harness.nodes["node0"]!.machines.map(\.name), ["a"], "nothing moved")
  }

  /// A failed migration is not re-issued at the next poll: the VM is left alone for
  /// --backoff seconds.
  func testAFailedMigrationBacksOffInsteadOfRetryingEveryPoll() throws {
    let harness = try sickCluster()
    harness.interruptAfterSleeps = 16
    XCTAssertEqual(
      harness.run("ft", "run", "--policy", "threshold", "--interval", "2", "--backoff", "5"), 0)
    // Polls at 0, 2, 4, 6: tried at 0, left alone at 2 and 4, tried again at 6.
    XCTAssertEqual(
      harness.output.components(separatedBy: ": failed: ").count - 1, 2, harness.output)
    XCTAssertEqual(
      harness.output.components(separatedBy: "refused: backing off: 1 failed action on a").count
        - 1, 2, harness.output)
  }

  /// The periodic checkpoint runs `peregrine checkpoint`'s own code into
  /// $PEREGRINE_HOME/checkpoints/VM-TIMESTAMP.checkpoint, and the VM keeps running.
  func testPeriodicCheckpointWritesAFileUnderTheCheckpointDirectory() throws {
    let node = FakeNode()
    let harness = try Harness(nodes: ["node0": node])
    _ = try harness.writeFile("hello.bin", "flat guest")
    let profile = try harness.writeFile(
      "vm.xml", "<profile><name>vm</name><memory>16</memory><flat>hello.bin</flat></profile>")
    XCTAssertEqual(harness.run("create", profile), 0, harness.errors)
    harness.interruptAfterSleeps = 8
    XCTAssertEqual(
      harness.run(
        "ft", "run", "--policy", "periodic-checkpoint", "--checkpoint-period", "2", "--interval",
        "2"), 0, harness.errors)
    let directory = harness.directory.appendingPathComponent("checkpoints").path
    let files = try FileManager.default.contentsOfDirectory(atPath: directory)
    XCTAssertEqual(files.count, 1, "\(files)")
    let name = try XCTUnwrap(files.first)
    XCTAssertTrue(name.hasPrefix("vm-") && name.hasSuffix("Z.checkpoint"), name)
    XCTAssertTrue(
      harness.output.contains("checkpoint vm on node0 (")
        && harness.output.contains(
          "done, checkpoint in \(directory)/\(name)"),
      harness.output)
    let decoded = try CheckpointFile.decode(
      [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: directory + "/" + name))))
    XCTAssertEqual(decoded.metadata.machine, "vm")
    XCTAssertEqual(node.machines.first { $0.name == "vm" }?.state, .running)
  }

  func testRunOnceUnderDoNothingSucceedsAndReportsJSON() throws {
    let harness = try sickCluster()
    XCTAssertEqual(harness.run("ft", "run", "--policy", "none", "--once", "--json"), 0)
    let json = try harness.json()
    XCTAssertEqual(json["policy"] as? String, "none")
    let nodes = try XCTUnwrap(json["nodes"] as? [[String: Any]])
    XCTAssertEqual(nodes.map { $0["condition"] as? String }, ["degraded", "healthy"])
    XCTAssertEqual((nodes[0]["corrected_errors_by_bank"] as? [String: Int])?["1"], 4)
    XCTAssertEqual((json["actions"] as? [Any])?.count, 0)
  }

  func testRunPollsEveryIntervalUntilInterruptedAndADeadNodeIsDead() throws {
    let harness = try sickCluster()
    harness.running.remove(501)  // node1's emulator has gone
    harness.interruptAfterSleeps = 8
    XCTAssertEqual(harness.run("ft", "run", "--policy", "none", "--interval", "2"), 0)
    // Two polls, 2 s apart in 0.5 s sleeps; the interrupt during the second wait ends it.
    XCTAssertEqual(harness.output.components(separatedBy: "none: ").count - 1, 2, harness.output)
    XCTAssertTrue(harness.output.contains("node1 dead"), harness.output)
  }

  func testANodeWhoseAnswerCannotBeUsedIsDeadWithAWarning() throws {
    let harness = try sickCluster()
    harness.nodes["node1"]!.failure = .protocolMismatch(node: "node1", detail: "version 9")
    XCTAssertEqual(harness.run("ft", "run", "--policy", "none", "--once"), 0)
    XCTAssertTrue(harness.output.contains("node1 dead"), harness.output)
    XCTAssertTrue(
      harness.errors.contains("node node1: ") && harness.errors.contains("counted as dead"),
      harness.errors)
  }

  func testRunRefusesAnUnknownPolicyAsAUsageError() throws {
    let harness = try sickCluster()
    XCTAssertEqual(harness.run("ft", "run", "--policy", "oracle", "--once"), 64)
    XCTAssertTrue(harness.errors.contains("there is no policy 'oracle'"), harness.errors)
  }

  func testSimulateWritesTheCSVAndNamesABadTraceLine() throws {
    let harness = try Harness()
    let trace = try harness.writeFile(
      "t.trace", "1.5 node1 burst count=10\n2 node1 failure\n3 node1 recovery\n")
    XCTAssertEqual(
      harness.run(
        "ft", "simulate", "--trace", trace, "--nodes", "4", "--job-hours", "10", "--vms", "4",
        "--csv", "-"), 0)
    let lines = harness.output.split(separator: "\n")
    XCTAssertEqual(lines.first.map(String.init), SimulationResult.csvHeader)
    XCTAssertEqual(
      lines.dropFirst().map { $0.split(separator: ",")[0] },
      ["threshold", "rate", "periodic-checkpoint", "none", "rate+periodic-checkpoint"])
    // The built-in costs are measured ones: no warning.
    XCTAssertFalse(harness.errors.contains("placeholders"), harness.errors)
    let guessed = try harness.writeFile(
      "guessed.txt",
      "placeholder\nmigration 1G 9\ndowntime 1G 1\ncheckpoint 1G 5\nrestore 1G 5\nrestart 60\n")
    XCTAssertEqual(
      harness.run(
        "ft", "simulate", "--trace", trace, "--nodes", "4", "--job-hours", "10", "--vms", "4",
        "--costs", guessed), 0)
    XCTAssertTrue(harness.errors.contains("placeholders"), harness.errors)
    let bad = try harness.writeFile("bad.trace", "# ok\n1 node1 failure\n2 node1 recovery now\n")
    XCTAssertEqual(
      harness.run(
        "ft", "simulate", "--trace", bad, "--nodes", "4", "--job-hours", "10", "--vms", "4"), 1)
    XCTAssertTrue(
      harness.errors.contains(
        "\(bad): line 3: unexpected 'now' (a recovery takes nothing after its kind)"),
      harness.errors)
    XCTAssertEqual(
      harness.run(
        "ft", "simulate", "--trace", trace, "--nodes", "1", "--job-hours", "10", "--vms", "4"), 64)
    XCTAssertTrue(harness.errors.contains("node1"), harness.errors)
  }

  func testGenerateWritesATraceThatParsesBack() throws {
    let harness = try Harness()
    XCTAssertEqual(
      harness.run(
        "ft", "trace", "generate", "--shape", "0.8", "--scale", "30", "--nodes", "4",
        "--duration", "100", "--seed", "2"), 0)
    let trace = try FaultTrace.parse(harness.output)
    XCTAssertGreaterThan(trace.failures, 0)
    XCTAssertTrue(harness.output.hasPrefix("# Peregrine failure trace"))
    XCTAssertTrue(harness.output.contains("--shape 0.8 --scale 30.0 --nodes 4"))
    XCTAssertEqual(
      harness.run(
        "ft", "trace", "generate", "--shape", "0", "--scale", "30", "--nodes", "4",
        "--duration", "100"), 64)
  }
}
