import Foundation

/// The user's cluster on this machine, under `$PEREGRINE_HOME` (default `~/.peregrine`):
///
///     cluster.key          the key, 64 hex digits, mode 0600
///     nodes.json           the running nodes (NodeRecord), rewritten by node up/down
///     nodes/NAME/          each node's boot ISO, grub.cfg, serial log and emulator files
public struct ClusterState {
  public var directory: URL

  public init(directory: URL) { self.directory = directory }

  /// `$PEREGRINE_HOME`, else `~/.peregrine`.
  public static func defaultDirectory(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> URL {
    if let home = environment["PEREGRINE_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
    return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".peregrine")
  }

  public var keyFile: URL { directory.appendingPathComponent("cluster.key") }
  public var nodesFile: URL { directory.appendingPathComponent("nodes.json") }
  public func nodeDirectory(_ name: String) -> URL {
    directory.appendingPathComponent("nodes").appendingPathComponent(name)
  }

  /// Creates the directory (0700) if needed.
  public func prepare() throws {
    try FileManager.default.createDirectory(
      at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
  }

  public func readKey() throws -> ClusterKey? {
    guard let data = FileManager.default.contents(atPath: keyFile.path) else { return nil }
    guard let key = ClusterKey(hex: String(decoding: data, as: UTF8.self)) else {
      throw CLIError(
        .noCluster, "\(keyFile.path) does not hold a cluster key (64 hex digits)",
        hint:
          "remove it; `peregrine node up` then makes a new key (and nodes booted with the old one must be restarted)"
      )
    }
    return key
  }

  /// The key, made (and stored 0600) if there is none yet.
  public func keyCreatingIfNeeded() throws -> (key: ClusterKey, created: Bool) {
    if let key = try readKey() { return (key, false) }
    try prepare()
    let key = ClusterKey.generate()
    // Created with mode 0600 from the start: the key is never readable by others, not even
    // between a write and a chmod.
    let descriptor = open(keyFile.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard descriptor >= 0 else {
      throw CLIError(.failure, "cannot create \(keyFile.path): \(String(cString: strerror(errno)))")
    }
    let text = Array((key.hex + "\n").utf8)
    let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    close(descriptor)
    guard written == text.count else { throw CLIError(.failure, "cannot write \(keyFile.path)") }
    return (key, true)
  }

  static var decoder: JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return decoder
  }

  public func readNodes() throws -> NodeTable {
    guard let data = FileManager.default.contents(atPath: nodesFile.path) else {
      return NodeTable(nodes: [])
    }
    do {
      return try Self.decoder.decode(NodeTable.self, from: data)
    } catch {
      throw CLIError(
        .noCluster, "\(nodesFile.path) cannot be read as a node table (\(error))",
        hint: "stop any emulators it named by hand, remove it and run `peregrine node up`")
    }
  }

  public func writeNodes(_ table: NodeTable) throws {
    try prepare()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    let data = try encoder.encode(table)
    try data.write(to: nodesFile, options: .atomic)
  }

  /// The nodes, or a `noCluster` error when there are none.
  public func requireNodes() throws -> (key: ClusterKey, nodes: [NodeRecord]) {
    let table = try readNodes()
    guard !table.nodes.isEmpty else {
      throw CLIError(
        .noCluster, "no nodes are up (\(nodesFile.path) lists none)",
        hint: "start some with `peregrine node up`")
    }
    guard let key = try readKey() else {
      throw CLIError(
        .noCluster, "there is no cluster key at \(keyFile.path)",
        hint: "`peregrine node down` then `peregrine node up`")
    }
    return (key, table.nodes)
  }
}

/// nodes.json.
public struct NodeTable: Codable, Equatable {
  public var version = 1
  public var nodes: [NodeRecord]
  /// The bridge `node up --network bridge` created (nil: none, or it was already there);
  /// `node down` deletes it once no port is left on it.
  public var bridgeMade: String?
  public init(nodes: [NodeRecord], bridgeMade: String? = nil) {
    self.nodes = nodes
    self.bridgeMade = bridgeMade
  }
}

/// One node started by `node up`.
public struct NodeRecord: Codable, Equatable {
  public var name: String
  public var backend: Backend
  /// The emulator's process ID (its own session, so it outlives the CLI).
  public var pid: Int32
  /// The UDP port the host sends to: forwarded to the node's control port (user mode), or
  /// the control port itself at `host` (bridge mode).
  public var hostPort: UInt16
  /// The node's address on its management network, as its command line gives it.
  public var address: String
  public var iso: String
  public var log: String
  public var startedAt: Date
  /// nil in tables written before the bridge mode: user.
  public var network: NodeNetwork?
  /// Where the host sends to: the node's own address on the bridge; nil: 127.0.0.1 (slirp).
  public var host: String?
  /// The tap this CLI made for the node (bridge mode), deleted by `node down`; nil when it
  /// has none or used one that was already there.
  public var tapMade: String?
  /// When the node last answered `peregrine nodes`: shown when it is dead. nil: never (or a
  /// table written before node health).
  public var lastAnswerAt: Date?

  public var endpoint: NodeEndpoint {
    NodeEndpoint(name: name, host: host ?? "127.0.0.1", port: hostPort)
  }

  public init(
    name: String, backend: Backend, pid: Int32, hostPort: UInt16, address: String, iso: String,
    log: String, startedAt: Date, network: NodeNetwork? = nil, host: String? = nil,
    tapMade: String? = nil
  ) {
    self.name = name
    self.backend = backend
    self.pid = pid
    self.hostPort = hostPort
    self.address = address
    self.iso = iso
    self.log = log
    self.startedAt = startedAt
    self.network = network
    self.host = host
    self.tapMade = tapMade
  }
}

public enum Backend: String, Codable, CaseIterable {
  /// AMD-V nodes under QEMU TCG (-cpu EPYC).
  case svm
  /// Intel VT-x nodes under Bochs (corei7_skylake_x).
  case vmx
}
