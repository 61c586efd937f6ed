import ArgumentParser
import FaultTolerance
import Foundation

/// `peregrine ft trace`: failure traces for the simulator.
struct FTTraceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "trace", abstract: "Generate or check failure traces.",
    subcommands: [FTTraceGenerateCommand.self, FTTraceCheckCommand.self])
}

struct FTTraceGenerateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "A synthetic failure trace: Weibull times between failures per node.",
    discussion: """
      Each node fails independently, its times between failures drawn from Weibull(--shape, \
      --scale hours), and is back --repair-hours later. Each failure is preceded, \
      --lead-minutes ahead, by a burst of --burst-errors corrected errors (bank 0) with \
      probability --precursor-probability; isolated corrected errors (bank 1) arrive at \
      --noise-per-day per node. Schroeder and Gibson (DSN 2006) report shapes of 0.7-0.8 \
      for single nodes of large systems (docs/fault-tolerance.md).
      """)

  enum Distribution: String, ExpressibleByArgument, CaseIterable {
    case weibull, exponential
  }

  @Option(help: "weibull, or exponential (shape 1).")
  var distribution: Distribution = .weibull

  @Option(help: "The Weibull shape (below 1: a decreasing failure rate).")
  var shape: Double = 0.7

  @Option(help: "The Weibull scale, in hours, per node.")
  var scale: Double

  @Option(help: "Nodes.")
  var nodes: Int

  @Option(help: "The trace's length, in hours.")
  var duration: Double

  @Option(help: "The random seed.")
  var seed: UInt64 = 1

  @Option(help: "Hours from a failure to the node's recovery.")
  var repairHours: Double = 1

  @Option(help: "Minutes from a precursor burst to its failure.")
  var leadMinutes: Double = 30

  @Option(help: "Corrected errors in a precursor burst.")
  var burstErrors: UInt64 = 10

  @Option(help: "The probability that a failure has a precursor burst.")
  var precursorProbability: Double = 1

  @Option(help: "Isolated corrected errors per node per day (background wear).")
  var noisePerDay: Double = 0.5

  @Option(name: .shortAndLong, help: "Write the trace here (default: standard output).")
  var output: String?

  func validate() throws {
    guard repairHours.isFinite, repairHours > 0 else {
      throw ValidationError("--repair-hours must be positive")
    }
    guard leadMinutes.isFinite, leadMinutes >= 0 else {
      throw ValidationError("--lead-minutes must be 0 or more")
    }
    guard burstErrors >= 1 else { throw ValidationError("--burst-errors must be at least 1") }
    guard (0...1).contains(precursorProbability) else {
      throw ValidationError("--precursor-probability must be in [0, 1]")
    }
    guard noisePerDay.isFinite, noisePerDay >= 0 else {
      throw ValidationError("--noise-per-day must be 0 or more")
    }
  }

  func run() throws {
    let environment = CLIEnvironment.current
    let actualShape = distribution == .exponential ? 1 : shape
    var generator = try checked(status: .usage) { () throws(FaultToleranceError) in
      try TraceGenerator(
        distribution: try WeibullDistribution(shape: actualShape, scale: scale), nodes: nodes,
        durationSeconds: duration * 3600)
    }
    generator.repairSeconds = repairHours * 3600
    generator.leadSeconds = leadMinutes * 60
    generator.burstErrors = burstErrors
    generator.precursorProbability = precursorProbability
    generator.noisePerDay = noisePerDay
    let trace = generator.generate(seed: seed)
    let mean = generator.distribution.mean
    let text = trace.text(header: [
      "Peregrine failure trace (docs/fault-tolerance.md, \"Trace format\")",
      "peregrine ft trace generate --distribution \(distribution.rawValue) --shape \(actualShape) --scale \(scale) --nodes \(nodes) --duration \(duration) --seed \(seed) --repair-hours \(repairHours) --lead-minutes \(leadMinutes) --burst-errors \(burstErrors) --precursor-probability \(precursorProbability) --noise-per-day \(noisePerDay)",
      String(
        format: "per-node mean time between failures %.1f h; %d failures on %d nodes in %.0f h",
        mean, trace.failures, nodes, duration),
    ])
    if let output {
      do {
        try text.write(toFile: output, atomically: true, encoding: .utf8)
      } catch {
        throw CLIError(.failure, "cannot write \(output): \(error.localizedDescription)")
      }
      environment.errors("\(output): \(trace.failures) failures, \(trace.events.count) events\n")
    } else {
      environment.output(text)
    }
  }
}

struct FTTraceCheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check", abstract: "Check a trace file and count its events.")

  @OptionGroup var options: GlobalOptions

  @Argument(help: "The trace file.")
  var file: String

  func run() throws {
    let environment = CLIEnvironment.current
    let text = try readUserFile(file, what: "trace")
    let trace = try checked(file: file) { () throws(FaultToleranceError) in
      try FaultTrace.parse(text)
    }
    let counts = Dictionary(grouping: trace.events, by: \.kind).mapValues(\.count)
    let span = trace.events.last?.seconds ?? 0
    if options.json {
      environment.printJSON(
        TraceSummary(
          nodes: trace.nodeCount, hours: span / 3600, bursts: counts[.burst] ?? 0,
          failures: counts[.failure] ?? 0, recoveries: counts[.recovery] ?? 0))
    } else {
      environment.output(
        "\(file): \(trace.events.count) events on \(trace.nodeCount) nodes over \(Formatting.hours(span)): \(counts[.failure] ?? 0) failures, \(counts[.recovery] ?? 0) recoveries, \(counts[.burst] ?? 0) corrected-error bursts\n"
      )
    }
  }
}

struct TraceSummary: Encodable {
  var nodes: Int
  var hours: Double
  var bursts: Int
  var failures: Int
  var recoveries: Int
}
