import Foundation

/// A VM's disk as read back from its node (`NodeConnection.readDisk`).
public struct DiskContents: Equatable {
  public var image: [UInt8]
  /// Requests it took, and chunks that held data (the node skips chunks of zeros).
  public var requests: Int
  public var dataChunks: Int

  public init(image: [UInt8], requests: Int, dataChunks: Int) {
    self.image = image
    self.requests = requests
    self.dataChunks = dataChunks
  }
}

/// How a disk went to the node: chunks sent, chunks of zeros left out (sparse transfer).
public struct DiskTransferCounts: Equatable, Codable {
  public var sentChunks: Int
  public var skippedChunks: Int

  public init(sentChunks: Int, skippedChunks: Int) {
    self.sentChunks = sentChunks
    self.skippedChunks = skippedChunks
  }
}

/// Where a VM's disk came from, and where `image save` and `destroy` bring it back.
public enum DiskSource: Equatable, Codable {
  /// An image of the store, by name.
  case store(String)
  /// A file named by path in the profile.
  case file(String)

  var description: String {
    switch self {
    case .store(let name): return "image '\(name)'"
    case .file(let path): return path
    }
  }
}

/// `disks.json` in the state directory: each VM created with a disk, its node and the
/// disk's source, until the VM is destroyed.
struct DiskRecords: Codable, Equatable {
  struct Entry: Codable, Equatable {
    var machine: String
    var node: String
    var source: DiskSource
  }
  var disks: [Entry] = []

  static func file(_ state: ClusterState) -> URL {
    state.directory.appendingPathComponent("disks.json")
  }

  static func read(_ state: ClusterState) -> DiskRecords {
    guard let data = FileManager.default.contents(atPath: file(state).path),
      let records = try? JSONDecoder().decode(DiskRecords.self, from: data)
    else { return DiskRecords() }
    return records
  }

  func write(_ state: ClusterState) throws {
    try state.prepare()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(to: Self.file(state), options: .atomic)
  }

  static func entry(of machine: String, in state: ClusterState) -> Entry? {
    read(state).disks.first { $0.machine == machine }
  }

  static func record(_ entry: Entry, in state: ClusterState) throws {
    var records = read(state)
    records.disks.removeAll { $0.machine == entry.machine }
    records.disks.append(entry)
    try records.write(state)
  }

  static func forget(_ machine: String, in state: ClusterState) throws {
    var records = read(state)
    guard records.disks.contains(where: { $0.machine == machine }) else { return }
    records.disks.removeAll { $0.machine == machine }
    try records.write(state)
  }
}

extension ClusterState {
  /// The disk images (`peregrine image ...`): `$PEREGRINE_HOME/images`.
  public var images: DiskImageStore {
    DiskImageStore(directory: directory.appendingPathComponent("images"))
  }
}
