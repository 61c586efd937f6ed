import ArgumentParser
import Foundation

struct ConsoleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "console",
    abstract: "Print a VM's serial output, live, until Ctrl-C (or until the VM ends).",
    discussion:
      "Starts with what the node still holds of the VM's output. --json prints one object per chunk: {\"offset\", \"text\", \"dropped_bytes\"}."
  )

  @OptionGroup var options: GlobalOptions
  @Argument(help: "The VM's name.") var vm: String
  @Option(name: .long, help: "Seconds between polls when there is no new output.") var poll:
    Double = 0.1

  func run() throws {
    let environment = CLIEnvironment.current
    let session = try ClusterSession(environment: environment)
    let node: NodeRecord
    let connection: NodeConnection
    do {
      (node, connection, _) = try session.locate(vm)
    } catch let error as CLIError where error.status == .noSuchMachine {
      // Not listed: it may have ended, and a node keeps the last few ended VMs' consoles.
      guard let found = try session.locateEndedConsole(of: vm) else { throw error }
      (node, connection) = found
    }
    try ConsoleStream.follow(
      vm, on: node, connection: connection, json: options.json, poll: poll, environment: environment
    )
  }
}

/// Following a VM's console: `console VM`, and `create --console`.
enum ConsoleStream {
  static func follow(
    _ vm: String, on node: NodeRecord, connection: NodeConnection, json: Bool, poll: Double,
    environment: CLIEnvironment
  ) throws {
    Interrupts.install()
    if !json && environment.errorsIsTerminal {
      environment.errors("[console of \(vm) on \(node.name); Ctrl-C to leave]\n")
    }
    var offset: UInt64 = 0
    while !environment.interrupted() {
      let chunk = try environment.request { try connection.readConsole(of: vm, from: offset) }
      if json {
        if !chunk.bytes.isEmpty || chunk.droppedBytes > 0 {
          environment.printJSONLine(
            ConsoleRecord(
              offset: offset, text: String(decoding: chunk.bytes, as: UTF8.self),
              droppedBytes: chunk.droppedBytes))
        }
      } else {
        if chunk.droppedBytes > 0 {
          environment.errors("\n[\(chunk.droppedBytes) bytes of console output were dropped]\n")
        }
        if !chunk.bytes.isEmpty { environment.console(chunk.bytes) }
      }
      offset = chunk.nextOffset
      if chunk.ended {
        if !json { environment.errors("\n[\(vm) has ended]\n") }
        return
      }
      if chunk.bytes.isEmpty { environment.sleep(poll) }
    }
  }
}

struct ConsoleRecord: Encodable {
  var offset: UInt64
  var text: String
  var droppedBytes: UInt64
}

extension CLIEnvironment {
  /// One JSON object on one line (a stream of records).
  func printJSONLine<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    output(String(decoding: data, as: UTF8.self) + "\n")
  }
}
