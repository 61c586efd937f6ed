import ArgumentParser
import Foundation

struct NodesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nodes",
    abstract: "Each node's address, CPUs and topology, free memory, VMs and health.",
    discussion: """
      A node that does not answer within its retry budget, or whose emulator has gone, is \
      shown as dead with the time of its last good answer; the command fails only when no \
      node answers (docs/node-health.md).
      """)

  @OptionGroup var options: GlobalOptions

  func run() throws {
    let environment = CLIEnvironment.current
    let session = try ClusterSession(environment: environment)
    var rows: [NodeRow] = []
    var unreachable: [(NodeRecord, CLIError)] = []
    var unwired: CLIError?
    var answered: [String] = []
    for node in session.nodes {
      var row = NodeRow(node: node)
      row.lastAnswer = node.lastAnswerAt.map(Formatting.timestamp)
      if !environment.launcher.isRunning(node.pid, node.marker) {
        row.health = "dead (not running)"
        unreachable.append(
          (
            node,
            CLIError(
              .unreachable, "node \(node.name) is not running (its log: \(node.log))",
              hint: "`peregrine node up` starts the nodes that stopped")
          ))
      } else {
        do {
          let connection = try session.connection(to: node)
          row.report = try environment.request { try connection.describeNode() }
          row.health =
            row.report.map { report in
              report.healthProblems.isEmpty
                ? report.health
                : "\(report.health): \(report.healthProblems.joined(separator: "; "))"
            } ?? "ok"
          answered.append(node.name)
        } catch let error as CLIError where error.status == .unreachable {
          row.health = "dead (no answer)"
          unreachable.append((node, error))
        } catch let error as CLIError where error.status == .notSupported {
          // The process table still says something: show it, then say why nothing more.
          row.health = "running (not asked)"
          unwired = error
        }
      }
      if row.health.hasPrefix("dead") {
        row.dead = true
        row.health += row.lastAnswer.map { ", last answer \($0)" } ?? ", never answered"
      }
      rows.append(row)
    }
    Self.recordAnswers(from: answered, at: environment.now(), in: environment.state)
    if options.json {
      environment.printJSON(NodeList(nodes: rows))
    } else {
      environment.output(
        Formatting.table(
          ["NODE", "ADDRESS", "BACKEND", "CPUS", "TOPOLOGY", "FREE MEMORY", "VMS", "HEALTH"],
          rows.map { row in
            let report = row.report
            return [
              row.name, "\(row.host):\(row.port) (\(row.address))", row.backend.rawValue,
              report.map { "\($0.cpuCount)" } ?? "-", report?.topology ?? "-",
              report.map {
                "\(Formatting.bytes($0.freeMemory)) of \(Formatting.bytes($0.totalMemory))"
              } ?? "-",
              report.map {
                $0.machines.isEmpty
                  ? "0" : "\($0.machines.count) (\($0.machines.joined(separator: ", ")))"
              } ?? "-",
              row.health,
            ]
          }))
      // Each node's recent health events under the table, newest last.
      for row in rows {
        guard let history = row.report?.healthHistory, !history.isEmpty else { continue }
        environment.output("\n\(row.name) health history:\n")
        for entry in history {
          environment.output(
            "  \(String(format: "%10.1f", entry.secondsSinceBoot)) s  \(entry.detail)\n")
        }
      }
    }
    // Dead nodes are rows of the table, not a failure of the command: it fails only when
    // no node answered (the warnings on standard error still name each one).
    let failure = session.reportUnreachable(unreachable)
    if let unwired { throw unwired }
    if let failure, answered.isEmpty { throw failure }
  }

  /// Keeps each answering node's time in the node table, for the day it stops answering.
  /// Best effort: a table another command rewrote meanwhile keeps its own records.
  static func recordAnswers(from names: [String], at now: Date, in state: ClusterState) {
    guard !names.isEmpty, var table = try? state.readNodes() else { return }
    for index in table.nodes.indices where names.contains(table.nodes[index].name) {
      table.nodes[index].lastAnswerAt = now
    }
    try? state.writeNodes(table)
  }
}

struct NodeList: Encodable {
  var nodes: [NodeRow]
}

struct NodeRow: Encodable {
  var name: String
  var host: String
  var port: UInt16
  var address: String
  var backend: Backend
  var pid: Int32
  var log: String
  var health: String = "unknown"
  /// No answer within the retry budget, or no emulator (docs/node-health.md).
  var dead = false
  /// When it last answered `peregrine nodes` (the node table's record), if ever.
  var lastAnswer: String?
  var report: NodeReport?

  init(node: NodeRecord) {
    name = node.name
    host = node.endpoint.host
    port = node.hostPort
    address = node.address
    backend = node.backend
    pid = node.pid
    log = node.log
  }
}

extension NodeRecord {
  /// What identifies this node's emulator process: its node directory is on its command
  /// line (the ISO for QEMU, the bochsrc for Bochs).
  /// With its trailing '/', so node1 does not match node10's emulator.
  var marker: String { URL(fileURLWithPath: iso).deletingLastPathComponent().path + "/" }
}
