import Foundation
import PeregrineProfiles

/// What the CLI asks of one node. Every command that talks to nodes is written against this
/// protocol; the control-protocol client (ControlClient, authenticated UDP) implements it,
/// and the tests use a fake. Each call either returns the node's answer or throws a
/// `NodeError`; a refused request changes nothing on the node.
public protocol NodeConnection: AnyObject {
  /// CPUs, topology, memory, VMs and health (`peregrine nodes`).
  func describeNode() throws -> NodeReport
  func listMachines() throws -> [MachineSummary]
  /// `includingState`: the vCPUs' architectural state and the device models' saved state
  /// too (`status VM --state`).
  func machineStatus(named name: String, includingState: Bool) throws -> MachineStatus
  /// Sends the profile and its files (chunked, checked), then starts the VM. `progress` is
  /// called as bytes go out.
  func createMachine(_ request: CreateRequest, progress: (TransferProgress) -> Void) throws
    -> MachineSummary
  func pauseMachine(named name: String) throws
  func unpauseMachine(named name: String) throws
  func destroyMachine(named name: String) throws
  /// The VM's serial output from `offset` on (what is there now, maybe nothing).
  func readConsole(of name: String, from offset: UInt64) throws -> ConsoleChunk
  /// VM `name`'s disk, read back whole (the VM paused, or ended by itself and not yet
  /// destroyed) and checked against the SHA-256 the node computes.
  func readDisk(of name: String, progress: (TransferProgress) -> Void) throws -> DiskContents
}

extension NodeConnection {
  public func readDisk(of name: String, progress: (TransferProgress) -> Void) throws
    -> DiskContents
  {
    throw NodeError.refused(node: "node", reason: "this connection cannot read disks")
  }
}

/// Opens connections to nodes. The CLI holds one (`CLIEnvironment.connector`).
public protocol NodeConnector {
  func connect(to node: NodeEndpoint, key: ClusterKey) throws -> NodeConnection
}

/// Where a node's control service listens, as the host reaches it.
public struct NodeEndpoint: Equatable, Codable {
  public var name: String
  public var host: String
  public var port: UInt16
  public init(name: String, host: String, port: UInt16) {
    self.name = name
    self.host = host
    self.port = port
  }
}

/// Why a node request failed. The CLI maps each to an exit code (`ExitStatus`).
public enum NodeError: Error, Equatable {
  /// No answer within the retransmission budget.
  case unreachable(node: String, waitedSeconds: Double)
  /// The node answered and refused (name in use, does not fit, ...): nothing changed.
  case refused(node: String, reason: String)
  /// The node refused the request's authentication (wrong cluster key, or a replay).
  case authenticationRefused(node: String)
  case noSuchMachine(String)
  /// A transfer stopped midway (the node stopped answering, or a chunk kept failing its
  /// check); the node discards what it had.
  case transferCutOff(node: String, file: String, sentBytes: UInt64, totalBytes: UInt64)
  /// The node's answer could not be understood (another protocol version, say).
  case protocolMismatch(node: String, detail: String)
  /// This build has no control-protocol client (`UnwiredConnector`).
  case notWired
}

/// The connector of a build without the control-protocol client: every connection fails
/// with `NodeError.notWired`, which the CLI reports as such.
public struct UnwiredConnector: NodeConnector {
  public init() {}
  public func connect(to node: NodeEndpoint, key: ClusterKey) throws -> NodeConnection {
    throw NodeError.notWired
  }
}
