import ArgumentParser
import Foundation

struct NodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "node",
    abstract: "Start and stop local nodes under the emulators (a laptop cluster).",
    subcommands: [NodeUpCommand.self, NodeDownCommand.self, NodeInjectMCECommand.self])
}

struct NodeUpCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "up",
    abstract: "Boot N local nodes in the background, with a cluster key made and stored for you.",
    discussion: """
      Each node boots its own ISO (the kernel with cluster_key=... ip=10.0.2.15/24 \
      gw=10.0.2.2 on its command line) under QEMU (svm: AMD-V, -cpu EPYC) or Bochs (vmx: \
      VT-x, corei7_skylake_x), on user-mode networking with its own host UDP port \
      forwarded to the node's control port. Nodes already up are kept; nodes that died are \
      started again. The key is in $PEREGRINE_HOME/cluster.key (0600), the node table in \
      nodes.json, each node's serial log in nodes/NAME/serial.log.

      --network bridge (svm only; needs CAP_NET_ADMIN, i.e. root) puts every node on one \
      Linux bridge, pgbr0 (10.0.3.1/24 on the host side, created if absent), through a tap \
      each (pgtapK): node K is 10.0.3.(K+2), reached at its control port directly, and the \
      nodes reach each other. `node down` deletes the taps and the bridge it made.
      """)

  @OptionGroup var options: GlobalOptions
  @Option(name: .long, help: "How many nodes (node0 ... nodeN-1).") var count = 1
  @Option(name: .long, help: "svm (QEMU, AMD-V) or vmx (Bochs, VT-x).") var backend: Backend = .svm
  @Option(
    name: .long,
    help: "The hypervisor ELF (default: beside this program's build/bin, or ./build/peregrine.elf)."
  )
  var kernel: String?
  @Option(name: .long, help: "Memory per node (e.g. 1G, 512M).") var memory = "1G"
  @Option(name: .long, help: "CPUs per node.") var cpus = 2
  @Option(
    name: .long,
    help:
      "user (slirp per node, forwarded host ports; nodes cannot reach each other) or bridge (one Linux bridge, a tap per node; needs CAP_NET_ADMIN)."
  )
  var network: NodeNetwork = .user
  @Option(
    name: .long,
    help:
      "Extra words for each node's kernel command line (e.g. the tests' `netecho nettest`).")
  var kernelArgs = ""
  @Option(
    name: .long,
    help:
      "Seconds to wait for the new nodes to answer (0: do not wait; default 120 for svm, 600 for vmx, Bochs being slower)."
  )
  var wait: Double?

  func validate() throws {
    guard count >= 1 && count <= 64 else { throw ValidationError("--count must be from 1 to 64") }
    guard cpus >= 1 && cpus <= 64 else { throw ValidationError("--cpus must be from 1 to 64") }
    guard NodeManager.mebibytes(memory) != nil else {
      throw ValidationError("--memory must be like 512M or 1G (at least 64M)")
    }
    if let refusal = NodeBoot.refusalOfExtraWords(kernelArgs) { throw ValidationError(refusal) }
  }

  func run() throws {
    let environment = CLIEnvironment.current
    let manager = NodeManager(environment: environment)
    let elf = try kernel ?? NodeManager.defaultKernel()
    let result = try manager.up(
      count: count, backend: backend, kernel: elf, memoryMiB: NodeManager.mebibytes(memory)!,
      cpus: cpus, network: network, kernelArgs: kernelArgs)
    let waitOutcome = try manager.waitForAnswers(
      result.started, seconds: wait ?? (backend == .svm ? 120 : 600))
    if options.json {
      environment.printJSON(
        NodeUpReport(
          keyFile: environment.state.keyFile.path, keyCreated: result.keyCreated,
          started: result.started.map(\.name), kept: result.kept.map(\.name),
          restarted: result.restarted, nodes: result.nodes, answered: waitOutcome.answered,
          waited: waitOutcome.waited, bridgeCreated: result.bridgeCreated))
      return
    }
    if result.keyCreated {
      environment.output("made a cluster key: \(environment.state.keyFile.path) (mode 0600)\n")
    }
    for node in result.kept {
      environment.output(
        "\(node.name) is already up (pid \(node.pid), UDP \(node.endpoint.host):\(node.endpoint.port))\n"
      )
    }
    for name in result.restarted { environment.output("\(name) had stopped; starting it again\n") }
    if let bridge = result.bridgeCreated {
      environment.output(
        "made bridge \(bridge) (\(BridgeNetwork.hostAddress)/\(BridgeNetwork.prefixLength) on the host side)\n"
      )
    }
    for node in result.started {
      let route =
        node.host.map {
          "UDP \($0) port \(node.hostPort) on bridge \(BridgeNetwork.bridgeName)"
            + (node.tapMade.map { " (tap \($0))" } ?? "")
        }
        ?? "UDP 127.0.0.1:\(node.hostPort) -> \(node.address) port \(NodeBoot.controlPort)"
      environment.output(
        "started \(node.name): \(node.backend == .svm ? "QEMU" : "Bochs") pid \(node.pid), \(route), log \(node.log)\n"
      )
    }
    if let note = waitOutcome.note { environment.errors("peregrine: note: \(note)\n") }
    if result.nodes.count > count {
      environment.output(
        "\(result.nodes.count) nodes are up (more than --count \(count)); `peregrine node down` stops them all\n"
      )
    }
  }
}

struct NodeUpReport: Encodable {
  var keyFile: String
  var keyCreated: Bool
  var started: [String]
  var kept: [String]
  var restarted: [String]
  var nodes: [NodeRecord]
  var answered: [String]
  var waited: Bool
  var bridgeCreated: String?
}

struct NodeDownCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "down",
    abstract: "Stop every local node (their VMs end with them). The cluster key stays.")

  @OptionGroup var options: GlobalOptions

  func run() throws {
    let environment = CLIEnvironment.current
    let outcome = try NodeManager(environment: environment).down()
    if options.json {
      environment.printJSON(
        NodeDownReport(
          stopped: outcome.stopped, notRunning: outcome.notRunning,
          removedLinks: outcome.removedLinks))
      return
    }
    if outcome.stopped.isEmpty && outcome.notRunning.isEmpty {
      environment.output("no nodes are up\n")
    }
    for name in outcome.stopped { environment.output("stopped \(name)\n") }
    for name in outcome.notRunning { environment.output("\(name) was not running; forgotten\n") }
    for link in outcome.removedLinks { environment.output("removed \(link)\n") }
  }
}

struct NodeDownReport: Encodable {
  var stopped: [String]
  var notRunning: [String]
  var removedLinks: [String]
}

extension Backend: ExpressibleByArgument {}
