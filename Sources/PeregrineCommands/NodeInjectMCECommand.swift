import ArgumentParser
import Foundation

/// Fault injection for node health (docs/node-health.md): corrected machine-check errors
/// put into a node's MCA bank through its QEMU monitor, as a sickening part would report.
struct NodeInjectMCECommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inject-mce",
    abstract: "Inject corrected machine-check errors into a node (svm nodes; a test helper).",
    discussion: """
      Sends QEMU's monitor command `mce CPU BANK STATUS 0 ADDR 0` COUNT times through the \
      node's monitor socket (nodes/NAME/monitor.sock). STATUS is VAL|EN|ADDRV with MCA \
      error code 1 (0x9400000000000001): corrected, so the node polls and counts it. \
      Injections are spaced by --interval so that each lands after the node's last poll \
      (one a second): two in one bank between polls are one error with OVER set.
      """)

  /// VAL (63) | EN (60) | ADDRV (58) | MCA error code 0x0001 (SDM 3B §15.3.2.2, §15.9.1).
  static let correctedStatus: UInt64 = 0x9400_0000_0000_0001

  @OptionGroup var options: GlobalOptions
  @Argument(help: "The node (e.g. node0).") var node: String
  @Option(help: "The MCA bank (QEMU's CPUs have 10).") var bank = 1
  @Option(help: "The CPU index.") var cpu = 0
  @Option(help: "How many errors.") var count = 1
  @Option(help: "Seconds between injections.") var interval = 1.2

  func validate() throws {
    guard (0..<32).contains(bank) else { throw ValidationError("--bank must be 0...31") }
    guard count >= 1 && count <= 1000 else { throw ValidationError("--count must be 1...1000") }
    guard cpu >= 0, interval >= 0 else { throw ValidationError("--cpu and --interval: >= 0") }
  }

  func run() throws {
    let environment = CLIEnvironment.current
    let (_, nodes) = try environment.state.requireNodes()
    guard let record = nodes.first(where: { $0.name == node }) else {
      throw CLIError(
        .usage,
        "there is no node '\(node)'; the nodes are \(nodes.map(\.name).joined(separator: ", "))")
    }
    guard record.backend == .svm,
      let socket = NodeBoot.monitorSocket(
        nodeDirectory: URL(fileURLWithPath: record.iso).deletingLastPathComponent().path)
    else {
      throw CLIError(
        .notSupported, "node \(node) has no QEMU monitor (Bochs nodes, or a path too long)")
    }
    let command = QEMUMonitor.mceCommand(
      cpu: cpu, bank: bank, status: Self.correctedStatus, address: 0x1000 * UInt64(bank + 1))
    for index in 0..<count {
      if index > 0 { environment.sleep(interval) }
      let answer: String
      do {
        answer = try environment.launcher.monitor(socket, [command]).first ?? ""
      } catch {
        throw CLIError(
          .unreachable, "node \(node)'s monitor (\(socket)): \(error)",
          hint: "nodes started before `inject-mce` existed have no monitor: `node down; node up`")
      }
      // The monitor answers nothing on success, a sentence on refusal.
      if !answer.isEmpty { throw CLIError(.refused, "QEMU refused `\(command)`: \(answer)") }
    }
    if options.json {
      environment.printJSON(MCEInjection(node: node, cpu: cpu, bank: bank, count: count))
    } else {
      environment.output(
        "injected \(count) corrected machine-check error(s) into \(node) CPU \(cpu) bank \(bank)\n")
    }
  }
}

struct MCEInjection: Encodable {
  var node: String
  var cpu: Int
  var bank: Int
  var count: Int
}
