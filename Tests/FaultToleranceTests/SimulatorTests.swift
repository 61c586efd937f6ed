import XCTest

@testable import FaultTolerance

final class SimulatorTests: XCTestCase {
  let hour = 3600.0

  func simulate(
    _ trace: FaultTrace, policy: String, nodes: Int = 4, vms: Int = 4, jobHours: Double = 10,
    parameters: PolicyParameters = PolicyParameters()
  ) throws -> SimulationResult {
    let setup = try SimulationSetup(nodes: nodes, jobSeconds: jobHours * hour, vms: vms)
    return try Simulator(setup: setup, trace: trace).run(PolicyCatalog.make(policy, parameters))
  }

  /// Without failures the job takes its length plus its checkpoints' time, nothing else.
  func testNoFailuresCompletesInTheJobLengthPlusCheckpointOverhead() throws {
    let empty = FaultTrace(events: [])
    for name in PolicyCatalog.all {
      let result = try simulate(empty, policy: name)
      let checkpoint = CostModel.builtIn.seconds(.checkpoint, memoryBytes: 512 << 20)
      XCTAssertTrue(result.completed, name)
      XCTAssertEqual(
        result.completionSeconds, 10 * hour + Double(result.checkpoints) * checkpoint,
        accuracy: 1e-6, name)
      XCTAssertEqual(result.workLostSeconds, 0)
      XCTAssertEqual(result.migrations, 0)
      // At 1 h, 2 h, ... 10 h: at 10 h the job is 45 s (nine checkpoints) short of done.
      XCTAssertEqual(result.checkpoints, name.contains("checkpoint") ? 10 : 0, name)
    }
  }

  /// Failures on nodes of the job, each preceded 30 min ahead by a burst (a perfect
  /// predictor): migration moves the VMs in time, nothing is lost; the cost is the
  /// migrations' downtime. Do-nothing loses the work since the start at each failure.
  func testAPerfectPredictorWithMigrationLosesNoWorkAndDoNothingLosesWorkOnEachFailure()
    throws
  {
    let trace = try FaultTrace.parse(
      """
      1.5  node1 burst count=10
      2    node1 failure
      3    node1 recovery
      4.5  node2 burst count=10
      5    node2 failure
      6    node2 recovery
      """)
    let downtime = CostModel.builtIn.seconds(.downtime, memoryBytes: 512 << 20)
    for name in ["threshold", "rate"] {
      let result = try simulate(trace, policy: name)
      XCTAssertTrue(result.completed)
      XCTAssertEqual(result.workLostSeconds, 0, name)
      XCTAssertEqual(result.failuresHit, 0, name)
      XCTAssertEqual(result.migrations, 2, name)
      XCTAssertEqual(result.completionSeconds, 10 * hour + 2 * downtime, accuracy: 1e-6, name)
    }
    let baseline = try simulate(trace, policy: "none")
    let restart = 60 + CostModel.builtIn.seconds(.restore, memoryBytes: 512 << 20)
    XCTAssertEqual(baseline.failuresHit, 2)
    XCTAssertEqual(baseline.restarts, 2)
    XCTAssertEqual(baseline.migrations, 0)
    // The first failure takes 2 h of work; the job restarts (65 s) and from 2 h + 65 s runs
    // 5 h - (2 h + 65 s) more before the second.
    XCTAssertEqual(
      baseline.workLostSeconds, 2 * hour + 5 * hour - (2 * hour + restart), accuracy: 1e-6)
    XCTAssertEqual(baseline.completionSeconds, 5 * hour + restart + 10 * hour, accuracy: 1e-6)
  }

  /// Periodic checkpoints bound the loss to the work since the last one.
  func testCheckpointsLimitTheLossToTheWorkSinceTheLastOne() throws {
    let trace = try FaultTrace.parse("2.5 node0 failure\n3.5 node0 recovery\n")
    let result = try simulate(trace, policy: "periodic-checkpoint")
    let checkpoint = CostModel.builtIn.seconds(.checkpoint, memoryBytes: 512 << 20)
    // Checkpoints at 1 h and 2 h (5 s each); the failure at 2.5 h takes the work since the
    // second one ended: 0.5 h - 5 s.
    XCTAssertEqual(result.failuresHit, 1)
    XCTAssertEqual(result.workLostSeconds, 0.5 * hour - checkpoint, accuracy: 1e-6)
  }

  /// With nowhere to evacuate to (every node full), the prediction cannot be acted on.
  func testNoRoomMeansNoMigration() throws {
    let trace = try FaultTrace.parse("1 node1 burst count=10\n2 node1 failure\n")
    let setup = try SimulationSetup(
      nodes: 2, jobSeconds: 10 * hour, vms: 2, nodeMemoryBytes: 512 << 20)
    let result = try Simulator(setup: setup, trace: trace).run(ThresholdPolicy())
    XCTAssertEqual(result.migrations, 0)
    XCTAssertEqual(result.failuresHit, 1)
    // node1 never recovers and node0 has no room for its VM: the job cannot finish.
    XCTAssertFalse(result.completed)
  }

  /// A failure is noticed at the next poll, as the real daemon and operator see a dead node
  /// only when they ask (scripts/ft-validate.py measured it): the restart waits for it, and
  /// the polls start at --poll-offset after the job.
  func testAFailureIsNoticedAtTheNextPollOfTheOffsetCadence() throws {
    let trace = try FaultTrace.parse("1000s node0 failure\n")
    let restart = 60 + CostModel.builtIn.seconds(.restore, memoryBytes: 512 << 20)
    for (offset, noticed) in [(0.0, 1020.0), (30, 1050), (40, 1000)] {
      let setup = try SimulationSetup(
        nodes: 2, jobSeconds: hour, vms: 1, pollSeconds: 60, pollOffsetSeconds: offset)
      let result = try Simulator(setup: setup, trace: trace).run(PolicyCatalog.make("none"))
      XCTAssertEqual(result.failuresHit, 1)
      XCTAssertEqual(result.workLostSeconds, 1000, accuracy: 1e-6)
      // Down from 1000 s until the poll notices, then the restart, then the whole job.
      XCTAssertEqual(
        result.completionSeconds, noticed + restart + hour, accuracy: 1e-6, "offset \(offset)")
    }
    XCTAssertThrowsError(
      try SimulationSetup(nodes: 2, jobSeconds: hour, vms: 1, pollOffsetSeconds: -1))
  }

  /// A job hit before any checkpoint starts anew (`create`, as the validation's `none` run
  /// does), one hit after a checkpoint restores it (`restore`); without a `create` line a
  /// fresh start costs a restore.
  func testNothingSavedMeansAFreshStartAtTheCreateCost() throws {
    let costs = try CostModel.parse(
      """
      migration 16MiB 2
      downtime 16MiB 0.2
      checkpoint 16MiB 1
      restore 16MiB 8
      create 16MiB 3
      restart 0.5
      """)
    XCTAssertEqual(costs.seconds(.create, memoryBytes: 16 << 20), 3)
    let trace = try FaultTrace.parse("100s node0 failure\n")
    func run(_ policy: String, _ costs: CostModel) throws -> SimulationResult {
      let setup = try SimulationSetup(
        nodes: 2, jobSeconds: 200, vms: 1, vmMemoryBytes: 16 << 20, pollSeconds: 5,
        costs: costs)
      var parameters = PolicyParameters()
      parameters.checkpointPeriodSeconds = 30
      return try Simulator(setup: setup, trace: trace).run(PolicyCatalog.make(policy, parameters))
    }
    // none: 100 s lost, noticed at 100 s, 0.5 + 3 s to start anew, then 200 s of work.
    let none = try run("none", costs)
    XCTAssertEqual(none.workLostSeconds, 100, accuracy: 1e-9)
    XCTAssertEqual(none.completionSeconds, 100 + 3.5 + 200, accuracy: 1e-9)
    // periodic-checkpoint restores (0.5 + 8 s) what the checkpoint at 90 s saved.
    let periodic = try run("periodic-checkpoint", costs)
    XCTAssertEqual(periodic.failuresHit, 1)
    XCTAssertEqual(periodic.workLostSeconds, 100 - 91, accuracy: 1e-9)
    XCTAssertEqual(periodic.restarts, 1)
    // Without a `create` line, a fresh start costs what a restore does.
    var withoutCreate = costs
    withoutCreate.points[.create] = nil
    XCTAssertEqual(withoutCreate.seconds(.create, memoryBytes: 16 << 20), 8)
    XCTAssertEqual(
      try run("none", withoutCreate).completionSeconds, 100 + 8.5 + 200, accuracy: 1e-9)
  }

  /// A failure during a migration's pre-copy (a lead shorter than the migration) is a hit.
  func testAFailureBeforeTheMigrationEndsIsAHitAndTheMigrationIsCutOff() throws {
    let trace = try FaultTrace.parse("1h node1 burst count=10\n3603s node1 failure\n")
    let result = try simulate(trace, policy: "threshold")
    XCTAssertEqual(result.failuresHit, 1)
    XCTAssertEqual(result.failedMigrations, 1)
    XCTAssertEqual(result.migrations, 0)
  }

  func testThePredictorHasTheAskedRecallAndPrecision() throws {
    let failures = (0..<200).map {
      FaultTrace.Event(seconds: Double($0) * 100 + 5000, node: $0 % 8, kind: .failure)
    }
    let trace = FaultTrace(events: failures)
    let applied = try PredictorModel(precision: 0.8, recall: 0.5).apply(
      to: trace, nodes: 8, horizonSeconds: 30000, seed: 9)
    XCTAssertEqual(Double(applied.truePredictions), 100, accuracy: 15)
    XCTAssertEqual(
      Double(applied.truePredictions) / Double(applied.truePredictions + applied.falseAlarms), 0.8,
      accuracy: 0.01)
    XCTAssertEqual(
      applied.trace.events.filter { $0.kind == .burst }.count,
      applied.truePredictions + applied.falseAlarms)
    XCTAssertEqual(applied.trace.failures, 200)
    XCTAssertThrowsError(try PredictorModel(precision: 0, recall: 1))
  }

  /// A perfect predictor over a generated trace: proactive policies lose nothing, the
  /// baseline loses work at each failure it meets.
  func testOverAGeneratedTraceAPerfectPredictorSavesTheWork() throws {
    let generator = try TraceGenerator(
      distribution: WeibullDistribution(shape: 0.7, scale: 40), nodes: 8,
      durationSeconds: 100 * hour)
    let generated = generator.generate(seed: 5)
    let applied = try PredictorModel(precision: 1, recall: 1).apply(
      to: generated, nodes: 8, horizonSeconds: 100 * hour, seed: 1)
    XCTAssertEqual(applied.falseAlarms, 0)
    let none = try simulate(applied.trace, policy: "none", nodes: 8, vms: 8, jobHours: 24)
    let rate = try simulate(applied.trace, policy: "rate", nodes: 8, vms: 8, jobHours: 24)
    XCTAssertGreaterThan(none.failuresHit, 0)
    XCTAssertGreaterThan(none.workLostSeconds, 0)
    XCTAssertEqual(rate.workLostSeconds, 0)
    XCTAssertEqual(rate.failuresHit, 0)
    XCTAssertGreaterThan(rate.migrations, 0)
    XCTAssertLessThan(rate.completionSeconds, none.completionSeconds)
  }

  func testTheCSVHasItsColumnsInOrder() {
    XCTAssertEqual(
      SimulationResult.csvHeader.split(separator: ",").map(String.init),
      [
        "policy", "completed", "completion_hours", "work_lost_hours", "migrations",
        "failed_migrations", "checkpoints", "failures_hit", "restarts",
        "migration_downtime_seconds",
      ])
    let row = SimulationResult(
      policy: "rate", completed: true, completionSeconds: 9000, workLostSeconds: 1800,
      migrations: 3, failedMigrations: 1, checkpoints: 0, failuresHit: 1, restarts: 1,
      downtimeSeconds: 0.9)
    XCTAssertEqual(row.csvRow, "rate,yes,2.5,0.5,3,1,0,1,1,0.9")
  }

  func testSetupsThatCannotRunAreRefused() {
    XCTAssertThrowsError(try SimulationSetup(nodes: 0, jobSeconds: hour, vms: 1))
    XCTAssertThrowsError(try SimulationSetup(nodes: 1, jobSeconds: 0, vms: 1))
    XCTAssertThrowsError(try SimulationSetup(nodes: 1, jobSeconds: hour, vms: 0))
    XCTAssertThrowsError(try SimulationSetup(nodes: 1, jobSeconds: hour, vms: 1, pollSeconds: 0))
    XCTAssertThrowsError(try SimulationSetup(nodes: 100_000, jobSeconds: 1e9, vms: 1)) {
      XCTAssertTrue("\($0)".contains("raise --interval"), "\($0)")
    }
    XCTAssertThrowsError(
      try SimulationSetup(nodes: 2, jobSeconds: hour, vms: 4, nodeMemoryBytes: 512 << 20)
    ) { XCTAssertTrue("\($0)".contains("4 VMs do not fit on 2 nodes"), "\($0)") }
  }

  func testTraceNodesOutsideTheClusterAreRefused() throws {
    let setup = try SimulationSetup(nodes: 2, jobSeconds: hour, vms: 2)
    XCTAssertThrowsError(
      try Simulator(setup: setup, trace: FaultTrace.parse("1 node5 failure\n"))
    ) {
      XCTAssertTrue("\($0)".contains("node5"), "\($0)")
      XCTAssertTrue("\($0)".contains("--nodes 2"), "\($0)")
    }
  }
}
