import XCTest

@testable import FaultTolerance

/// A cluster whose readings the test scripts, poll by poll.
final class FakeNodeSource: NodeSource {
  var readings: [NodeReading]
  init(_ readings: [NodeReading]) { self.readings = readings }
  func poll() -> [NodeReading] { readings }

  /// `count` nodes with 2 CPUs and 2 GiB, node K running "vmK" (512 MiB, 1 vCPU).
  static func nodes(_ count: Int) -> FakeNodeSource {
    FakeNodeSource(
      (0..<count).map {
        NodeReading(
          name: "node\($0)", cpuCount: 2, totalMemory: 2 << 30, freeMemory: 1 << 30,
          uptimeMilliseconds: 1000,
          vms: [VMPlacement(name: "vm\($0)", memoryBytes: 512 << 20, vcpus: 1)])
      })
  }

  /// Node `node` logs `count` more corrected errors in `bank` at `milliseconds` since boot.
  func addErrors(node: Int, bank: Int, count: UInt64, at milliseconds: UInt64) {
    readings[node].correctedSinceBoot += count
    readings[node].uptimeMilliseconds = milliseconds
    readings[node].correctedEvents.append(
      NodeReading.CorrectedEvent(
        millisecondsSinceBoot: milliseconds, cpu: 0, bank: bank, count: count))
    readings[node].correctedEvents = Array(readings[node].correctedEvents.suffix(16))
  }
}

/// Records what the daemon asked for, and moves a migrated VM in `source` as a real
/// migration would; `unavailable` makes it answer as this build does.
final class FakeActions: FaultToleranceActions {
  var migrations: [(vm: String, from: String, to: String)] = []
  var checkpoints: [String] = []
  var unavailable = false
  /// Migrations that still fail, as when another `peregrine migrate` holds the VM.
  var failuresLeft = 0
  var attempts = 0
  var source: FakeNodeSource?

  func migrate(vm: String, from: String, to: String) throws {
    if unavailable { throw FaultToleranceActionError.notAvailable("live migration") }
    attempts += 1
    if failuresLeft > 0 {
      failuresLeft -= 1
      throw FaultToleranceActionError.failed("a migration of \(vm) is already under way")
    }
    migrations.append((vm, from, to))
    guard let source, let a = source.readings.firstIndex(where: { $0.name == from }),
      let b = source.readings.firstIndex(where: { $0.name == to }),
      let moved = source.readings[a].vms.first(where: { $0.name == vm })
    else { return }
    source.readings[a].vms.removeAll { $0.name == vm }
    source.readings[a].freeMemory += moved.memoryBytes
    source.readings[b].vms.append(moved)
    source.readings[b].freeMemory -= moved.memoryBytes
  }

  func checkpoint(vm: String, node: String) throws -> String {
    if unavailable { throw FaultToleranceActionError.notAvailable("checkpointing") }
    checkpoints.append(vm)
    return "/tmp/\(vm).checkpoint"
  }
}

final class DaemonTests: XCTestCase {
  /// node1's corrected errors rise poll by poll: the threshold and rate policies move its
  /// VM to a healthy node with room; do-nothing never acts.
  func testRisingCorrectedErrorsMigrateTheNodesVMsUnderThresholdAndRateOnly() throws {
    for (name, expectMigration) in [("threshold", true), ("rate", true), ("none", false)] {
      let source = FakeNodeSource.nodes(3)
      let actions = FakeActions()
      actions.source = source
      let daemon = FaultToleranceDaemon(
        policy: try PolicyCatalog.make(name), source: source, actions: actions)
      XCTAssertEqual(daemon.step(at: 0).outcomes, [], name)
      var steps: [DaemonStep] = []
      for poll in 1...4 {
        source.addErrors(node: 1, bank: 2, count: 1, at: UInt64(1000 + poll * 10_000))
        steps.append(daemon.step(at: Double(poll) * 10))
      }
      XCTAssertEqual(steps.last?.snapshot.node(named: "node1")?.correctedErrorsByBank, [2: 4])
      if expectMigration {
        // Predicted at the third error (threshold 3; the rate's average passes 10/h then).
        XCTAssertEqual(steps.map { $0.outcomes.count }, [0, 0, 1, 0], name)
        XCTAssertEqual(steps.last?.snapshot.node(named: "node0")?.vms.map(\.name), ["vm0", "vm1"])
        XCTAssertEqual(actions.migrations.count, 1, name)
        XCTAssertEqual(actions.migrations.first?.vm, "vm1")
        XCTAssertEqual(actions.migrations.first?.from, "node1")
        XCTAssertEqual(actions.migrations.first?.to, "node0", "healthy, room, first by name")
      } else {
        XCTAssertTrue(actions.migrations.isEmpty)
        XCTAssertTrue(steps.allSatisfy { $0.outcomes.isEmpty })
      }
    }
  }

  func testPeriodicCheckpointsFireAtThePeriod() throws {
    let source = FakeNodeSource.nodes(2)
    let actions = FakeActions()
    var parameters = PolicyParameters()
    parameters.checkpointPeriodSeconds = 30
    let daemon = FaultToleranceDaemon(
      policy: try PolicyCatalog.make("periodic-checkpoint", parameters), source: source,
      actions: actions)
    var firedAt: [Double] = []
    for poll in 0...9 {
      let step = daemon.step(at: Double(poll) * 10)
      if !step.outcomes.isEmpty {
        firedAt.append(step.snapshot.time)
        XCTAssertTrue(step.outcomes.allSatisfy(\.succeeded))
      }
    }
    XCTAssertEqual(firedAt, [30, 60, 90])
    XCTAssertEqual(actions.checkpoints, ["vm0", "vm1", "vm0", "vm1", "vm0", "vm1"])
  }

  /// This build's actions: the outcome says "not available in this build", nothing moves.
  func testUnavailableActionsAreReportedAsSuch() throws {
    let source = FakeNodeSource.nodes(2)
    let actions = FakeActions()
    actions.unavailable = true
    let daemon = FaultToleranceDaemon(
      policy: try PolicyCatalog.make("threshold"), source: source, actions: actions)
    source.addErrors(node: 0, bank: 1, count: 5, at: 2000)
    let outcomes = daemon.step(at: 0).outcomes
    XCTAssertEqual(outcomes.count, 1)
    XCTAssertEqual(
      outcomes.first?.result, .notAvailable("live migration is not available in this build"))
  }

  /// A failed migration is not re-issued every poll: the VM is left alone for the back-off
  /// (10 s, then 20 s), and the next try after it succeeds.
  func testAFailedActionBacksOffPerVMAndDoublesUntilItSucceeds() throws {
    let source = FakeNodeSource.nodes(2)
    let actions = FakeActions()
    actions.source = source
    actions.failuresLeft = 2
    let daemon = FaultToleranceDaemon(
      policy: try PolicyCatalog.make("threshold"), source: source, actions: actions, backoff: 10)
    source.addErrors(node: 0, bank: 1, count: 5, at: 2000)
    var results: [String] = []
    for poll in 0...8 {
      for outcome in daemon.step(at: Double(poll) * 5).outcomes {
        switch outcome.result {
        case .failed: results.append("\(poll * 5) failed")
        case .refused(let why):
          results.append(why.hasPrefix("backing off") ? "\(poll * 5) wait" : why)
        case .done: results.append("\(poll * 5) done")
        case .notAvailable: results.append("\(poll * 5) n/a")
        }
      }
    }
    // Fails at 0 (quiet until 10), fails again at 10 (quiet until 30), done at 30.
    XCTAssertEqual(
      results, ["0 failed", "5 wait", "10 failed", "15 wait", "20 wait", "25 wait", "30 done"])
    XCTAssertEqual(actions.attempts, 3)
    XCTAssertEqual(actions.migrations.map(\.vm), ["vm0"])
  }

  /// A policy that names a target without room, or a VM that is not there, is refused by
  /// the daemon before anything is called.
  func testActionsAgainstTheSnapshotAreCheckedFirst() {
    final class Careless: FaultTolerancePolicy {
      let name = "careless"
      func decide(_ snapshot: ClusterSnapshot) -> [FaultToleranceAction] {
        [
          .migrate(vm: "vm0", from: "node0", to: "node1", reason: "test"),
          .migrate(vm: "vm0", from: "node0", to: "node1", reason: "again"),
          .migrate(vm: "ghost", from: "node0", to: "node1", reason: "test"),
          .checkpoint(vm: "vm1", node: "node0", reason: "test"),
        ]
      }
    }
    let source = FakeNodeSource.nodes(2)
    source.readings[1].freeMemory = 768 << 20  // room for one 512 MiB VM
    let actions = FakeActions()
    let outcomes = FaultToleranceDaemon(policy: Careless(), source: source, actions: actions)
      .step(at: 0).outcomes
    XCTAssertEqual(outcomes.map(\.succeeded), [true, false, false, false])
    XCTAssertEqual(outcomes[1].result, .refused("node node1 has no room for vm0"))
    XCTAssertEqual(outcomes[2].result, .refused("node node0 has no VM ghost"))
    XCTAssertEqual(actions.migrations.count, 1)
    XCTAssertTrue(actions.checkpoints.isEmpty)
  }

  /// Counting per bank from readings: only new history events count; a total that grew
  /// more than the history shows goes to the unattributed bank; a reboot keeps counts.
  func testTheLedgerCountsNewEventsOnceAndSurvivesReboots() {
    var ledger = CorrectedErrorLedger()
    var reading = NodeReading(name: "n", uptimeMilliseconds: 5000, correctedSinceBoot: 7)
    reading.correctedEvents = [.init(millisecondsSinceBoot: 4000, cpu: 0, bank: 3, count: 2)]
    XCTAssertEqual(ledger.snapshot(of: [reading], at: 0).nodes[0].correctedErrorsByBank, [3: 2])
    reading.uptimeMilliseconds = 9000
    reading.correctedSinceBoot = 12
    reading.correctedEvents.append(.init(millisecondsSinceBoot: 8000, cpu: 1, bank: 3, count: 1))
    XCTAssertEqual(
      ledger.snapshot(of: [reading], at: 5).nodes[0].correctedErrorsByBank,
      [3: 3, NodeSnapshot.unattributedBank: 4])
    let rebooted = NodeReading(
      name: "n", uptimeMilliseconds: 1000, correctedSinceBoot: 1,
      correctedEvents: [.init(millisecondsSinceBoot: 500, cpu: 0, bank: 3, count: 1)])
    XCTAssertEqual(
      ledger.snapshot(of: [rebooted], at: 10).nodes[0].correctedErrorsByBank,
      [3: 4, NodeSnapshot.unattributedBank: 4])
    let dead = ledger.snapshot(of: [.dead("n")], at: 15).nodes[0]
    XCTAssertEqual(dead.condition, .dead)
    XCTAssertEqual(dead.correctedErrorsByBank[3], 4)
  }
}
