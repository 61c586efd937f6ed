import Foundation

/// The nodes of the cluster and a connection to each, opened as they are needed.
final class ClusterSession {
  let environment: CLIEnvironment
  let key: ClusterKey
  let nodes: [NodeRecord]
  private var connections: [String: NodeConnection] = [:]

  init(environment: CLIEnvironment) throws {
    self.environment = environment
    (key, nodes) = try environment.state.requireNodes()
  }

  func connection(to node: NodeRecord) throws -> NodeConnection {
    if let open = connections[node.name] { return open }
    let connection = try environment.connect(node, key: key)
    connections[node.name] = connection
    return connection
  }

  func node(named name: String) throws -> NodeRecord {
    guard let node = nodes.first(where: { $0.name == name }) else {
      throw CLIError(
        .usage,
        "there is no node '\(name)'; the nodes are \(nodes.map(\.name).joined(separator: ", "))")
    }
    return node
  }

  /// Every node's VMs, asked of all nodes at once (`EveryNode`): a node that does not
  /// answer costs one listing timeout (`ControlConnection.listingPatience`, 3.75 s) however
  /// many there are. Nodes that do not answer are listed apart (`notWired` and protocol
  /// mismatches are not a node's fault and end the command).
  func machinesByNode() throws -> (
    found: [(node: NodeRecord, machines: [MachineSummary])], unreachable: [(NodeRecord, CLIError)]
  ) {
    var found: [(node: NodeRecord, machines: [MachineSummary])] = []
    var unreachable: [(NodeRecord, CLIError)] = []
    // Opened here, one after another: the session's table of connections is not shared.
    let opened = nodes.map { node in Result { try connection(to: node) } }
    let environment = environment
    let answers = EveryNode.ask(nodes.count) { index in
      Result { try environment.request { try opened[index].get().listMachines() } }
    }
    for (node, answer) in zip(nodes, answers) {
      do {
        found.append((node, try answer.get()))
      } catch let error as CLIError where error.status == .unreachable {
        unreachable.append((node, error))
      }
    }
    return (found, unreachable)
  }

  /// The node that runs VM `name`.
  func locate(_ name: String) throws -> (
    node: NodeRecord, connection: NodeConnection, machine: MachineSummary
  ) {
    let (found, unreachable) = try machinesByNode()
    // While a migration runs the VM is listed twice: running (or paused) on its node and
    // `incoming` on the target. Its node is the one that runs it (docs/migration.md).
    for incoming in [false, true] {
      for (node, machines) in found {
        if let machine = machines.first(where: {
          $0.name == name && ($0.state == .incoming) == incoming
        }) {
          return (node, try connection(to: node), machine)
        }
      }
    }
    if let (node, error) = unreachable.first {
      throw CLIError(
        .unreachable,
        "no reachable node runs a VM named '\(name)', and node \(node.name) did not answer (\(error.message))",
        hint: error.hint)
    }
    throw CLIError(NodeError.noSuchMachine(name), stateDirectory: environment.state.directory.path)
  }

  /// The node that still holds the console of an ended VM named `name` (nodes keep the
  /// last few, docs/control-protocol.md), or nil.
  func locateEndedConsole(of name: String) throws -> (NodeRecord, NodeConnection)? {
    for (node, _) in try machinesByNode().found {
      let connection = try connection(to: node)
      do {
        _ = try connection.readConsole(of: name, from: 0)
        return (node, connection)
      } catch NodeError.noSuchMachine {
        continue
      } catch let error as NodeError {
        throw CLIError(error, stateDirectory: environment.state.directory.path)
      }
    }
    return nil
  }

  /// Warns on standard error about nodes that did not answer; the status to end with.
  func reportUnreachable(_ unreachable: [(NodeRecord, CLIError)]) -> CLIError? {
    guard !unreachable.isEmpty else { return nil }
    for (_, error) in unreachable { environment.errors("peregrine: warning: \(error.message)\n") }
    let names = unreachable.map { $0.0.name }.joined(separator: ", ")
    return CLIError(
      .unreachable, "\(unreachable.count) node(s) did not answer: \(names)",
      hint: unreachable[0].1.hint)
  }
}
