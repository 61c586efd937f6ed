import ArgumentParser
import FaultTolerance
import Foundation

/// `peregrine ft simulate`: the policy simulator.
struct FTSimulateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "simulate",
    abstract: "Replay a failure trace over a simulated cluster running one job, per policy.",
    discussion: """
      A job of --job-hours of work runs on --vms VMs spread over --nodes nodes; every VM \
      must run for it to progress. The trace's failures stop nodes; its corrected-error \
      bursts are what the policies see, unless --precision and --recall put a predictor of \
      that quality in their place. Costs come from --costs (default: those `make bench` \
      measured for a 128 MiB guest on emulated nodes, traces/costs.txt). Prints per policy: completion time, work lost, \
      migrations and checkpoints (docs/fault-tolerance.md).
      """)

  @OptionGroup var options: GlobalOptions

  @Option(help: "The failure trace (docs/fault-tolerance.md, \"Trace format\").")
  var trace: String

  @Option(help: "Simulated nodes (the trace's nodes must be among node0..nodeN-1).")
  var nodes: Int

  @Option(help: "The job's length without failures, in hours.")
  var jobHours: Double

  @Option(help: "The job's VMs (placed round-robin).")
  var vms: Int

  @Option(help: "A policy, several joined with '+', or 'all'.")
  var policy: String = "all"

  @Option(help: "Predictor precision in (0, 1] (with --recall): replaces the trace's bursts.")
  var precision: Double?

  @Option(help: "Predictor recall in [0, 1] (with --precision).")
  var recall: Double?

  @Option(help: "How long before a failure the predictor flags it, in minutes.")
  var leadMinutes: Double = 30

  @Option(help: "The predictor's random seed.")
  var seed: UInt64 = 1

  @Option(help: "A costs file (default: built-in, as measured by make bench).")
  var costs: String?

  @Option(help: "Each VM's memory (e.g. 512MiB, 2GiB).")
  var vmMemory: String = "512MiB"

  @Option(help: "Each node's memory (default: room for one VM more than round-robin places).")
  var nodeMemory: String?

  @Option(help: "Seconds between policy polls.")
  var interval: Double = 60

  @Option(help: "Seconds after the job's start of the first poll (a daemon started later).")
  var pollOffset: Double = 0

  @Option(help: "Write the results as CSV to this file ('-': standard output).")
  var csv: String?

  @Option(help: "Plot the results to this PNG (python3 with matplotlib).")
  var plot: String?

  @OptionGroup var policyOptions: PolicyOptions

  func validate() throws {
    if (precision == nil) != (recall == nil) {
      throw ValidationError("--precision and --recall go together")
    }
    guard leadMinutes.isFinite, leadMinutes >= 0 else {
      throw ValidationError("--lead-minutes must be 0 or more")
    }
  }

  func run() throws {
    let environment = CLIEnvironment.current
    let names = policy == "all" ? PolicyCatalog.all : [policy]
    // Every policy is made before anything runs, so a wrong name fails at once.
    let parameters = policyOptions.parameters
    try checked(status: .usage) { () throws(FaultToleranceError) in
      for name in names { _ = try PolicyCatalog.make(name, parameters) }
    }
    let traceText = try readUserFile(trace, what: "trace")
    var parsedTrace = try checked(file: trace) { () throws(FaultToleranceError) in
      try FaultTrace.parse(traceText)
    }
    var costModel = CostModel.builtIn
    if let costs {
      let costsText = try readUserFile(costs, what: "costs file")
      costModel = try checked(file: costs) { () throws(FaultToleranceError) in
        try CostModel.parse(costsText)
      }
    }
    guard let vmBytes = CostModel.size(vmMemory) else {
      throw CLIError(.usage, "--vm-memory '\(vmMemory)' is not a size (e.g. 512MiB, 2GiB)")
    }
    var nodeBytes: UInt64?
    if let nodeMemory {
      guard let bytes = CostModel.size(nodeMemory) else {
        throw CLIError(.usage, "--node-memory '\(nodeMemory)' is not a size (e.g. 4GiB)")
      }
      nodeBytes = bytes
    }
    let setup = try checked(status: .usage) { () throws(FaultToleranceError) in
      try SimulationSetup(
        nodes: nodes, jobSeconds: jobHours * 3600, vms: vms, vmMemoryBytes: vmBytes,
        nodeMemoryBytes: nodeBytes, pollSeconds: interval,
        pollOffsetSeconds: pollOffset, costs: costModel)
    }
    var predictor: PredictorModel.Applied?
    if let precision, let recall {
      var model = try checked(status: .usage) { () throws(FaultToleranceError) in
        try PredictorModel(precision: precision, recall: recall)
      }
      model.leadSeconds = leadMinutes * 60
      let horizon = max(parsedTrace.events.last?.seconds ?? 0, setup.jobSeconds)
      let applied = model.apply(
        to: parsedTrace, nodes: nodes, horizonSeconds: horizon, seed: seed)
      predictor = applied
      parsedTrace = applied.trace
    }
    let finalTrace = parsedTrace
    let simulator = try checked(status: .usage) { () throws(FaultToleranceError) in
      try Simulator(setup: setup, trace: finalTrace)
    }
    if costModel.isPlaceholder {
      environment.errors(
        "peregrine: warning: the costs are placeholders, not measurements (docs/fault-tolerance.md, \"Costs file\")\n"
      )
    }
    var results: [SimulationResult] = []
    for name in names {
      let policy = try checked(status: .usage) { () throws(FaultToleranceError) in
        try PolicyCatalog.make(name, parameters)
      }
      results.append(simulator.run(policy))
    }
    let csvText =
      ([SimulationResult.csvHeader] + results.map(\.csvRow)).joined(separator: "\n") + "\n"
    if let csv, csv != "-" {
      do {
        try csvText.write(toFile: csv, atomically: true, encoding: .utf8)
      } catch {
        throw CLIError(.failure, "cannot write \(csv): \(error.localizedDescription)")
      }
    }
    if options.json {
      environment.printJSON(
        SimulationReport(
          setup: setup, results: results, predictor: predictor, failures: parsedTrace.failures))
    } else if csv == "-" {
      environment.output(csvText)
    } else {
      environment.output(summary(setup, parsedTrace, predictor) + table(results))
    }
    if let plot { try Self.plot(csvText, to: plot, environment: environment) }
  }

  private func summary(
    _ setup: SimulationSetup, _ trace: FaultTrace, _ predictor: PredictorModel.Applied?
  ) -> String {
    var text =
      "job: \(Formatting.hours(setup.jobSeconds)) of work on \(setup.vms) VM\(setup.vms == 1 ? "" : "s") (\(setup.vmMemoryBytes >> 20) MiB each), \(setup.nodes) node\(setup.nodes == 1 ? "" : "s"); \(trace.failures) failure\(trace.failures == 1 ? "" : "s") in the trace\n"
    if let predictor {
      text +=
        "predictor: \(predictor.truePredictions) failure\(predictor.truePredictions == 1 ? "" : "s") flagged \(Int(leadMinutes)) min ahead, \(predictor.falseAlarms) false alarm\(predictor.falseAlarms == 1 ? "" : "s")\n"
    }
    text += String(
      format:
        "costs per VM: migration %.1f s (downtime %.2f s), checkpoint %.1f s, restart %.1f s\n\n",
      setup.migrationSeconds, setup.downtimeSeconds, setup.checkpointSeconds, setup.restartSeconds)
    return text
  }

  private func table(_ results: [SimulationResult]) -> String {
    Formatting.table(
      [
        "POLICY", "COMPLETION", "WORK LOST", "MIGRATIONS", "CHECKPOINTS", "FAILURES HIT",
        "RESTARTS",
      ],
      results.map {
        [
          $0.policy,
          $0.completed
            ? Formatting.hours($0.completionSeconds)
            : "not done (\(Formatting.hours($0.completionSeconds)))",
          Formatting.hours($0.workLostSeconds),
          $0.failedMigrations > 0
            ? "\($0.migrations) (+\($0.failedMigrations) cut off)" : "\($0.migrations)",
          "\($0.checkpoints)", "\($0.failuresHit)", "\($0.restarts)",
        ]
      })
  }

  /// scripts/plot-fault-tolerance.py over the CSV.
  static func plot(_ csv: String, to output: String, environment: CLIEnvironment) throws {
    guard let script = locateScript("plot-fault-tolerance.py") else {
      throw CLIError(
        .noInput, "cannot find scripts/plot-fault-tolerance.py",
        hint: "run peregrine from the repository, or set PEREGRINE_SCRIPTS to its scripts directory"
      )
    }
    let input = FileManager.default.temporaryDirectory.appendingPathComponent(
      "peregrine-ft-\(getpid()).csv")
    try? csv.write(to: input, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    // Debian's python3 first: python3-matplotlib is installed for it (as `make bench` does),
    // and a python3 earlier on PATH (pyenv, a venv) may not have it.
    if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") {
      process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
      process.arguments = [script, input.path, output]
    } else {
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = ["python3", script, input.path, output]
    }
    let errors = Pipe()
    process.standardError = errors
    do {
      try process.run()
    } catch {
      throw CLIError(.notSupported, "cannot run python3 for --plot: \(error.localizedDescription)")
    }
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw CLIError(
        .notSupported,
        "the plot failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))",
        hint: "python3-matplotlib is needed: scripts/install-deps.sh installs it")
    }
    environment.errors("plot: \(output)\n")
  }

  /// $PEREGRINE_SCRIPTS/NAME, else scripts/NAME in a directory above this program, else
  /// under the current directory.
  static func locateScript(_ name: String) -> String? {
    var candidates: [String] = []
    if let directory = ProcessInfo.processInfo.environment["PEREGRINE_SCRIPTS"] {
      candidates.append(directory + "/" + name)
    }
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
      .deletingLastPathComponent()
    for _ in 0..<5 {
      candidates.append(directory.appendingPathComponent("scripts/" + name).path)
      directory.deleteLastPathComponent()
    }
    candidates.append(FileManager.default.currentDirectoryPath + "/scripts/" + name)
    return candidates.first { FileManager.default.fileExists(atPath: $0) }
  }
}

/// `ft simulate --json`.
struct SimulationReport: Encodable {
  struct Result: Encodable {
    var policy: String
    var completed: Bool
    var completionHours: Double
    var workLostHours: Double
    var migrations: Int
    var failedMigrations: Int
    var checkpoints: Int
    var failuresHit: Int
    var restarts: Int
    var migrationDowntimeSeconds: Double
  }
  struct Predictor: Encodable {
    var truePredictions: Int
    var falseAlarms: Int
  }
  var jobHours: Double
  var nodes: Int
  var vms: Int
  var failures: Int
  var costsArePlaceholders: Bool
  var predictor: Predictor?
  var results: [Result]

  init(
    setup: SimulationSetup, results: [SimulationResult], predictor: PredictorModel.Applied?,
    failures: Int
  ) {
    jobHours = setup.jobSeconds / 3600
    nodes = setup.nodes
    vms = setup.vms
    self.failures = failures
    costsArePlaceholders = setup.costs.isPlaceholder
    self.predictor = predictor.map {
      Predictor(truePredictions: $0.truePredictions, falseAlarms: $0.falseAlarms)
    }
    self.results = results.map {
      Result(
        policy: $0.policy, completed: $0.completed, completionHours: $0.completionSeconds / 3600,
        workLostHours: $0.workLostSeconds / 3600, migrations: $0.migrations,
        failedMigrations: $0.failedMigrations, checkpoints: $0.checkpoints,
        failuresHit: $0.failuresHit, restarts: $0.restarts,
        migrationDowntimeSeconds: $0.downtimeSeconds)
    }
  }
}
