import ArgumentParser
import Foundation

/// `peregrine`: manage Peregrine nodes and their VMs (docs/cli.md).
public struct PeregrineCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "peregrine",
    abstract: "Manage Peregrine hypervisor nodes and their VMs.",
    discussion: """
      Start a laptop cluster with `peregrine node up`, check a VM profile with `peregrine \
      validate PROFILE`, start it with `peregrine create PROFILE`. Every command takes \
      --json for a stable, script-readable form. State (the cluster key, the node table, \
      node logs) lives in $PEREGRINE_HOME, by default ~/.peregrine.

      Exit codes:
      \(ExitStatus.allCases.map { "  \(String($0.rawValue).padding(toLength: 3, withPad: " ", startingAt: 0)) \($0.meaning)" }.joined(separator: "\n"))
      """,
    subcommands: [
      NodeCommand.self, NodesCommand.self, ValidateCommand.self, CreateCommand.self,
      ListCommand.self,
      StatusCommand.self, PauseCommand.self, UnpauseCommand.self, DestroyCommand.self,
      ConsoleCommand.self, ImageCommand.self, CheckpointCommand.self, RestoreCommand.self,
      MigrateCommand.self, FaultToleranceCommand.self,
    ])

  public init() {}

  /// Parses and runs one command line (without the program name) in
  /// `CLIEnvironment.current`, printing what it has to say, and returns the exit status.
  public static func execute(_ arguments: [String]) -> Int32 {
    let environment = CLIEnvironment.current
    do {
      var command = try parseAsRoot(arguments)
      try command.run()
      return ExitStatus.success.rawValue
    } catch let error as CLIError {
      if !error.reported {
        environment.errors("peregrine: error: \(error.message)\n")
        if let hint = error.hint { environment.errors("  \(hint)\n") }
        // A script that asked for JSON gets the error as JSON on standard output too.
        if arguments.contains("--json") { environment.printJSON(ErrorReport(error)) }
      }
      return error.status.rawValue
    } catch {
      // swift-argument-parser's own: --help (0, to standard output), usage errors (64).
      let code = exitCode(for: error)
      let message = fullMessage(for: error)
      if code == .success {
        environment.output(message + "\n")
      } else {
        environment.errors(message + "\n")
      }
      return code.rawValue
    }
  }
}

/// `--json`'s form of a failure: {"error": {"status", "kind", "message", "hint"}}.
struct ErrorReport: Encodable {
  struct Body: Encodable {
    var status: Int32
    var kind: String
    var message: String
    var hint: String?
  }
  var error: Body

  init(_ error: CLIError) {
    self.error = Body(
      status: error.status.rawValue, kind: error.status.name, message: error.message,
      hint: error.hint)
  }
}

/// Options every command takes.
public struct GlobalOptions: ParsableArguments {
  @Flag(name: .long, help: "Print JSON (stable keys, snake_case) instead of text.")
  public var json = false

  public init() {}
}
