import ArgumentParser
import FaultTolerance
import Foundation

/// `peregrine ft`: proactive fault tolerance (docs/fault-tolerance.md).
struct FaultToleranceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ft",
    abstract: "Fault tolerance: the policy daemon, the policy simulator, failure traces.",
    discussion: """
      Policies: \(PolicyCatalog.shipped.joined(separator: ", ")); join several with '+' \
      (rate+periodic-checkpoint). See docs/fault-tolerance.md.
      """,
    subcommands: [FTRunCommand.self, FTSimulateCommand.self, FTTraceCommand.self])
}

/// The policies' tunables, shared by `ft run` and `ft simulate`.
struct PolicyOptions: ParsableArguments {
  @Option(help: "threshold: corrected errors in one bank within --window that predict a failure.")
  var threshold: UInt64 = PolicyParameters().threshold

  @Option(help: "threshold: the window, in seconds.")
  var window: Double = PolicyParameters().windowSeconds

  @Option(help: "rate: smoothed corrected errors per hour in one bank that predict a failure.")
  var rate: Double = PolicyParameters().errorsPerHour

  @Option(help: "rate: the moving average's time constant, in seconds.")
  var timeConstant: Double = PolicyParameters().timeConstantSeconds

  @Option(help: "periodic-checkpoint: seconds between checkpoints.")
  var checkpointPeriod: Double = PolicyParameters().checkpointPeriodSeconds

  func validate() throws {
    guard threshold >= 1 else { throw ValidationError("--threshold must be at least 1") }
    for (name, value) in [
      ("--window", window), ("--rate", rate), ("--time-constant", timeConstant),
      ("--checkpoint-period", checkpointPeriod),
    ] where !(value.isFinite && value > 0) {
      throw ValidationError("\(name) must be a positive number")
    }
  }

  var parameters: PolicyParameters {
    var parameters = PolicyParameters()
    parameters.threshold = threshold
    parameters.windowSeconds = window
    parameters.errorsPerHour = rate
    parameters.timeConstantSeconds = timeConstant
    parameters.checkpointPeriodSeconds = checkpointPeriod
    return parameters
  }
}

extension CLIError {
  /// A mistake in a fault-tolerance option or file, prefixed by the file when there is one.
  init(_ error: FaultToleranceError, file: String? = nil, status: ExitStatus = .failure) {
    self.init(status, file.map { "\($0): \(error.message)" } ?? error.message)
  }
}

/// Runs `body`, its mistake becoming the CLI's error (prefixed by `file`).
func checked<T>(
  file: String? = nil, status: ExitStatus = .failure,
  _ body: () throws(FaultToleranceError) -> T
) throws -> T {
  do {
    return try body()
  } catch {
    throw CLIError(error, file: file, status: status)
  }
}

/// Reads a text file the user named, or says why not.
func readUserFile(_ path: String, what: String) throws -> String {
  guard let data = FileManager.default.contents(atPath: path) else {
    throw CLIError(.noInput, "cannot read the \(what) \(path)")
  }
  guard let text = String(data: data, encoding: .utf8) else {
    throw CLIError(.failure, "\(path): the \(what) is not UTF-8 text")
  }
  return text
}

extension Formatting {
  /// Seconds as hours with two decimals ("26.08 h"), the simulator's unit.
  static func hours(_ seconds: Double) -> String { String(format: "%.2f h", seconds / 3600) }
}
