import Foundation

/// Everything the commands reach outside themselves: the node connector, where output
/// goes, the state directory, the clock. `main` uses the real one; tests put a fake
/// connector and captured output in its place.
public struct CLIEnvironment {
  public var connector: NodeConnector
  public var state: ClusterState
  /// Standard output (text or JSON).
  public var output: (String) -> Void
  /// Standard error: messages, progress.
  public var errors: (String) -> Void
  /// A VM's console bytes, unchanged.
  public var console: ([UInt8]) -> Void
  /// Whether standard error is a terminal (progress bars are drawn only there).
  public var errorsIsTerminal: Bool
  public var now: () -> Date
  public var sleep: (Double) -> Void
  /// Set by Ctrl-C while `console` or a wait runs.
  public var interrupted: () -> Bool
  /// Starts and stops emulator processes (`node up`, `node down`).
  public var launcher: NodeLauncher

  public static var current = CLIEnvironment.standard()

  public static func standard() -> CLIEnvironment {
    CLIEnvironment(
      connector: ControlConnector(),
      state: ClusterState(directory: ClusterState.defaultDirectory()),
      output: { text in FileHandle.standardOutput.write(Data(text.utf8)) },
      errors: { text in FileHandle.standardError.write(Data(text.utf8)) },
      console: { bytes in FileHandle.standardOutput.write(Data(bytes)) },
      errorsIsTerminal: isatty(STDERR_FILENO) == 1,
      now: Date.init,
      sleep: { seconds in usleep(useconds_t(seconds * 1_000_000)) },
      interrupted: { Interrupts.received },
      launcher: NodeLauncher())
  }

  /// Opens a connection to `node`, as a CLIError when it cannot.
  func connect(_ node: NodeRecord, key: ClusterKey) throws -> NodeConnection {
    do {
      return try connector.connect(to: node.endpoint, key: key)
    } catch let error as NodeError {
      throw CLIError(error, stateDirectory: state.directory.path)
    }
  }

  /// Runs a node request, turning a `NodeError` into the CLI's wording.
  func request<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as NodeError {
      throw CLIError(error, stateDirectory: state.directory.path)
    }
  }

  func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.dateEncodingStrategy = .iso8601
    // Encoding these plain records cannot fail; an empty object would still be valid JSON.
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    output(String(decoding: data, as: UTF8.self) + "\n")
  }
}

/// Ctrl-C while the console streams: the first one ends the stream (exit 0), as `xl
/// console` and `virsh console` users expect; a second one ends the process at once.
public enum Interrupts {
  nonisolated(unsafe) static var flag: Int32 = 0

  public static var received: Bool { flag != 0 }

  public static func install() {
    signal(SIGINT) { _ in
      if Interrupts.flag != 0 { _exit(130) }
      Interrupts.flag = 1
    }
  }
}
