import Foundation

/// clusters.json in the state directory: the VMs each `create CLUSTER.xml` made and where,
/// so `destroy CLUSTER` ends them all (the nodes know VMs, not clusters).
public struct ClusterTable: Codable, Equatable {
  public var version = 1
  public var clusters: [ClusterRecord]
  public init(clusters: [ClusterRecord]) { self.clusters = clusters }
}

public struct ClusterRecord: Codable, Equatable {
  public var name: String
  /// The profile it was created from, as given on the command line.
  public var profile: String
  public var machines: [PlacedMachine]
  public var createdAt: Date
}

public struct PlacedMachine: Codable, Equatable {
  public var name: String
  public var node: String
}

extension ClusterState {
  public var clustersFile: URL { directory.appendingPathComponent("clusters.json") }

  /// The recorded clusters; none when the file is missing. A damaged file is an error that
  /// says how to recover (the VMs themselves are still on their nodes, under their names).
  public func readClusters() throws -> ClusterTable {
    guard let data = FileManager.default.contents(atPath: clustersFile.path) else {
      return ClusterTable(clusters: [])
    }
    do {
      return try Self.decoder.decode(ClusterTable.self, from: data)
    } catch {
      throw CLIError(
        .failure, "\(clustersFile.path) cannot be read as a cluster table (\(error))",
        hint: "remove it; destroy the cluster's VMs one by one (`peregrine list` shows them)")
    }
  }

  public func writeClusters(_ table: ClusterTable) throws {
    try prepare()
    if table.clusters.isEmpty {
      try? FileManager.default.removeItem(at: clustersFile)
      return
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    try encoder.encode(table).write(to: clustersFile, options: .atomic)
  }

  /// Records (or replaces) one cluster.
  func record(_ cluster: ClusterRecord) throws {
    var table = try readClusters()
    table.clusters.removeAll { $0.name == cluster.name }
    table.clusters.append(cluster)
    try writeClusters(table)
  }

  func forgetCluster(named name: String) throws {
    var table = try readClusters()
    table.clusters.removeAll { $0.name == name }
    try writeClusters(table)
  }
}
