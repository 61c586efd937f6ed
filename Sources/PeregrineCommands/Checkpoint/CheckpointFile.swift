import ControlClient
import Foundation

/// A checkpoint of one VM in one file (docs/checkpoint.md): a header, a table of sections,
/// the sections, and the SHA-256 of everything before it. Little-endian throughout.
///
///     header   32 bytes: magic "PGCKPT\r\n", format version u16, section count u16,
///              reserved u32 (0), file size u64, reserved u64 (0)
///     table    56 bytes per section: kind u32, reserved u32 (0), offset u64, length u64,
///              SHA-256 of the section's bytes (32)
///     sections in table order, each where the table says, back to back
///     trailer  SHA-256 of every byte before it (32)
///
/// `decode` checks everything before it returns anything: the caller (restore) sends
/// nothing to a node for a file that is refused, and the refusal says exactly why.
public struct CheckpointFile: Equatable {
  public static let magic: [UInt8] = Array("PGCKPT\r\n".utf8)
  public static let formatVersion: UInt16 = 1
  public static let headerSize = 32
  public static let tableEntrySize = 56
  public static let trailerSize = 32

  public enum SectionKind: UInt32, CaseIterable, Equatable {
    case metadata = 1
    case profile = 2
    case savedState = 3
    case memory = 4
    case disk = 5

    public var name: String {
      switch self {
      case .metadata: return "metadata"
      case .profile: return "profile"
      case .savedState: return "saved state"
      case .memory: return "memory"
      case .disk: return "disk"
      }
    }
  }

  /// Where the checkpoint came from and what it holds (JSON, snake_case keys).
  public struct Metadata: Codable, Equatable {
    public var machine: String
    public var node: String
    /// "svm" (AMD-V) or "vmx" (VT-x): a checkpoint is restored on a node of the same.
    public var backend: String
    public var vendor: String
    /// Seconds since 1970 (UTC) when the VM was paused for it.
    public var createdAt: Double
    public var memoryBytes: UInt64
    public var vcpus: Int
    public var diskBytes: UInt64
    public var peregrineVersion: String

    public init(
      machine: String, node: String, backend: String, vendor: String, createdAt: Double,
      memoryBytes: UInt64, vcpus: Int, diskBytes: UInt64, peregrineVersion: String
    ) {
      self.machine = machine
      self.node = node
      self.backend = backend
      self.vendor = vendor
      self.createdAt = createdAt
      self.memoryBytes = memoryBytes
      self.vcpus = vcpus
      self.diskBytes = diskBytes
      self.peregrineVersion = peregrineVersion
    }

    enum CodingKeys: String, CodingKey {
      case machine, node, backend, vendor
      case createdAt = "created_at"
      case memoryBytes = "memory_bytes"
      case vcpus
      case diskBytes = "disk_bytes"
      case peregrineVersion = "peregrine_version"
    }
  }

  public var metadata: Metadata
  /// The VM's profile (XML), as it was created from.
  public var profile: [UInt8]
  /// `SavedVMState`'s records, as the node's `status` with state sent them.
  public var savedState: [UInt8]
  public var memory: SparseImage
  /// nil: the VM has no disk.
  public var disk: SparseImage?

  public init(
    metadata: Metadata, profile: [UInt8], savedState: [UInt8], memory: SparseImage,
    disk: SparseImage?
  ) {
    self.metadata = metadata
    self.profile = profile
    self.savedState = savedState
    self.memory = memory
    self.disk = disk
  }

  public func encoded() -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let json = (try? encoder.encode(metadata)).map { [UInt8]($0) } ?? []
    var sections: [(SectionKind, [UInt8])] = [
      (.metadata, json), (.profile, profile), (.savedState, savedState),
      (.memory, memory.encoded()),
    ]
    if let disk { sections.append((.disk, disk.encoded())) }
    var offset = Self.headerSize + sections.count * Self.tableEntrySize
    let fileSize = offset + sections.reduce(0) { $0 + $1.1.count } + Self.trailerSize
    var bytes: [UInt8] = []
    bytes.reserveCapacity(fileSize)
    bytes += Self.magic
    bytes.appendLE(Self.formatVersion)
    bytes.appendLE(UInt16(sections.count))
    bytes.appendLE(UInt32(0))
    bytes.appendLE(UInt64(fileSize))
    bytes.appendLE(UInt64(0))
    for (kind, payload) in sections {
      bytes.appendLE(kind.rawValue)
      bytes.appendLE(UInt32(0))
      bytes.appendLE(UInt64(offset))
      bytes.appendLE(UInt64(payload.count))
      bytes += ImageDigest.sha256(payload)
      offset += payload.count
    }
    for (_, payload) in sections { bytes += payload }
    bytes += ImageDigest.sha256(bytes)
    return bytes
  }

  /// The file, every check passed, or the first thing wrong with it.
  public static func decode(_ bytes: [UInt8]) throws(CheckpointError) -> CheckpointFile {
    let count = bytes.count
    guard count >= headerSize else {
      throw .truncated(
        "the file has \(count) bytes, shorter than the \(headerSize)-byte header")
    }
    guard Array(bytes[0..<8]) == magic else { throw .notACheckpoint }
    let version = bytes.readLE(UInt16.self, at: 8)
    guard version == formatVersion else {
      throw .unsupportedVersion(found: version, supported: formatVersion)
    }
    let sectionCount = Int(bytes.readLE(UInt16.self, at: 10))
    let declaredSize = bytes.readLE(UInt64.self, at: 16)
    guard declaredSize == UInt64(count) else {
      if declaredSize > UInt64(count) {
        throw .truncated("the file has \(count) bytes, its header says \(declaredSize)")
      }
      throw .corrupt("the file has \(count) bytes, its header says \(declaredSize)")
    }
    guard bytes.readLE(UInt32.self, at: 12) == 0, bytes.readLE(UInt64.self, at: 24) == 0 else {
      throw .corrupt("reserved header fields are not zero")
    }
    let tableEnd = headerSize + sectionCount * tableEntrySize
    guard sectionCount >= 1, tableEnd + trailerSize <= count else {
      throw .corrupt("the section table (\(sectionCount) sections) does not fit the file")
    }
    // Each section: its place and its own SHA-256, so a damaged section is named.
    var found: [SectionKind: [UInt8]] = [:]
    var expectedOffset = tableEnd
    for index in 0..<sectionCount {
      let entry = headerSize + index * tableEntrySize
      let rawKind = bytes.readLE(UInt32.self, at: entry)
      guard let kind = SectionKind(rawValue: rawKind) else {
        throw .corrupt("section \(index) has the unknown kind \(rawKind)")
      }
      guard bytes.readLE(UInt32.self, at: entry + 4) == 0 else {
        throw .corrupt("the \(kind.name) section's reserved field is not zero")
      }
      guard found[kind] == nil else { throw .corrupt("two \(kind.name) sections") }
      let offset = bytes.readLE(UInt64.self, at: entry + 8)
      let length = bytes.readLE(UInt64.self, at: entry + 16)
      guard offset == UInt64(expectedOffset), length <= UInt64(count - trailerSize - expectedOffset)
      else {
        throw .corrupt(
          "the \(kind.name) section's place (offset \(offset), \(length) bytes) is wrong")
      }
      let range = Int(offset)..<Int(offset) + Int(length)
      let digest = bytes.withUnsafeBytes {
        ImageDigest.sha256(UnsafeRawBufferPointer(rebasing: $0[range]))
      }
      guard digest == Array(bytes[entry + 24..<entry + 56]) else {
        throw .sectionDigest(kind.name)
      }
      found[kind] = Array(bytes[range])
      expectedOffset = range.upperBound
    }
    guard expectedOffset == count - trailerSize else {
      throw .corrupt(
        "\(count - trailerSize - expectedOffset) bytes between the sections and the trailer")
    }
    let whole = bytes.withUnsafeBytes {
      ImageDigest.sha256(UnsafeRawBufferPointer(rebasing: $0[0..<count - trailerSize]))
    }
    guard whole == Array(bytes[(count - trailerSize)...]) else { throw .fileDigest }
    for kind in [SectionKind.metadata, .profile, .savedState, .memory] where found[kind] == nil {
      throw .corrupt("the file has no \(kind.name) section")
    }
    let metadata: Metadata
    do {
      metadata = try JSONDecoder().decode(Metadata.self, from: Data(found[.metadata]!))
    } catch {
      throw .corrupt("the metadata section is not the expected JSON")
    }
    let memory = try SparseImage.decoded(found[.memory]!, section: "memory")
    guard memory.size == metadata.memoryBytes else {
      throw .corrupt(
        "the memory section holds \(memory.size) bytes, the metadata says \(metadata.memoryBytes)")
    }
    let disk = try found[.disk].map { bytes throws(CheckpointError) in
      try SparseImage.decoded(bytes, section: "disk")
    }
    guard (disk?.size ?? 0) == metadata.diskBytes else {
      throw .corrupt(
        "the disk section holds \(disk?.size ?? 0) bytes, the metadata says \(metadata.diskBytes)")
    }
    return CheckpointFile(
      metadata: metadata, profile: found[.profile]!, savedState: found[.savedState]!,
      memory: memory, disk: disk)
  }
}

/// Why a checkpoint file is refused. Nothing was sent to any node.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
  case truncated(String)
  case notACheckpoint
  case unsupportedVersion(found: UInt16, supported: UInt16)
  case corrupt(String)
  /// A section's bytes do not match the SHA-256 in the table.
  case sectionDigest(String)
  /// The header, the table or the trailer do not match the whole-file SHA-256.
  case fileDigest

  public var description: String {
    switch self {
    case .truncated(let detail): return "the checkpoint is truncated: \(detail)"
    case .notACheckpoint: return "not a Peregrine checkpoint (its first bytes are not PGCKPT)"
    case .unsupportedVersion(let found, let supported):
      return
        "checkpoint format version \(found) is not supported (this peregrine reads version \(supported))"
    case .corrupt(let detail): return "the checkpoint is corrupt: \(detail)"
    case .sectionDigest(let name):
      return "the checkpoint is corrupt: the \(name) section does not match its SHA-256"
    case .fileDigest:
      return
        "the checkpoint is corrupt: the file does not match its SHA-256 (header, table or trailer changed)"
    }
  }
}

/// A large image (guest memory, a disk) as its runs of non-zero bytes: size u64, run count
/// u64, then per run offset u64, length u64 and the bytes. Runs ascend, do not touch or
/// overlap, and lie within the size; everything else is zeros.
public struct SparseImage: Equatable {
  public struct Run: Equatable {
    public var offset: UInt64
    public var bytes: [UInt8]
    public init(offset: UInt64, bytes: [UInt8]) {
      self.offset = offset
      self.bytes = bytes
    }
  }

  public var size: UInt64
  public var runs: [Run]

  public init(size: UInt64, runs: [Run]) {
    self.size = size
    self.runs = runs
  }

  /// Chunks read from a node, in ascending order, merged where they touch.
  /// The run being built is a local of its own: appending to `runs[last].bytes` while
  /// `runs.last` was bound copied the whole run at every chunk (a debug build does not
  /// optimize the copy away), quadratic in the run's length: minutes of a checkpoint's
  /// 5 went to it (docs/checkpoint.md, "Measured").
  public init(size: UInt64, chunks: [(offset: UInt64, bytes: [UInt8])]) {
    var runs: [Run] = []
    var offset: UInt64 = 0
    var bytes: [UInt8] = []
    for chunk in chunks where !chunk.bytes.isEmpty {
      if !bytes.isEmpty && offset + UInt64(bytes.count) == chunk.offset {
        bytes.append(contentsOf: chunk.bytes)
      } else {
        if !bytes.isEmpty { runs.append(Run(offset: offset, bytes: bytes)) }
        offset = chunk.offset
        bytes = chunk.bytes
      }
    }
    if !bytes.isEmpty { runs.append(Run(offset: offset, bytes: bytes)) }
    self.init(size: size, runs: runs)
  }

  /// A whole image, its zero chunks of `chunkSize` left out.
  public init(image: [UInt8], chunkSize: Int = 1024) {
    var chunks: [(offset: UInt64, bytes: [UInt8])] = []
    var offset = 0
    while offset < image.count {
      let end = min(image.count, offset + chunkSize)
      if image[offset..<end].contains(where: { $0 != 0 }) {
        chunks.append((UInt64(offset), Array(image[offset..<end])))
      }
      offset = end
    }
    self.init(size: UInt64(image.count), chunks: chunks)
  }

  public var dataBytes: UInt64 { runs.reduce(0) { $0 + UInt64($1.bytes.count) } }

  /// Every byte, zeros included.
  public func image() -> [UInt8] {
    var image = [UInt8](repeating: 0, count: Int(size))
    for run in runs {
      image.replaceSubrange(Int(run.offset)..<Int(run.offset) + run.bytes.count, with: run.bytes)
    }
    return image
  }

  /// The non-zero data cut at multiples of `chunkSize`, for `memoryWrite`.
  public func chunks(of chunkSize: Int) -> [(offset: UInt64, bytes: [UInt8])] {
    var chunks: [(offset: UInt64, bytes: [UInt8])] = []
    for run in runs {
      var position = Int(run.offset)
      let end = Int(run.offset) + run.bytes.count
      while position < end {
        let next = min(end, (position / chunkSize + 1) * chunkSize)
        let slice = run.bytes[(position - Int(run.offset))..<(next - Int(run.offset))]
        if slice.contains(where: { $0 != 0 }) { chunks.append((UInt64(position), Array(slice))) }
        position = next
      }
    }
    return chunks
  }

  func encoded() -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(16 + runs.count * 16 + Int(dataBytes))
    bytes.appendLE(size)
    bytes.appendLE(UInt64(runs.count))
    for run in runs {
      bytes.appendLE(run.offset)
      bytes.appendLE(UInt64(run.bytes.count))
      bytes += run.bytes
    }
    return bytes
  }

  static func decoded(_ bytes: [UInt8], section: String) throws(CheckpointError) -> SparseImage {
    guard bytes.count >= 16 else {
      throw .corrupt("the \(section) section is shorter than its header")
    }
    let size = bytes.readLE(UInt64.self, at: 0)
    let runCount = bytes.readLE(UInt64.self, at: 8)
    guard size <= 1 << 40 else {
      throw .corrupt("the \(section) section's size \(size) is implausible")
    }
    var position = 16
    var runs: [Run] = []
    var end: UInt64 = 0
    while UInt64(runs.count) < runCount {
      guard bytes.count - position >= 16 else {
        throw .corrupt("the \(section) section's run \(runs.count) is cut short")
      }
      let offset = bytes.readLE(UInt64.self, at: position)
      let length = bytes.readLE(UInt64.self, at: position + 8)
      position += 16
      guard length > 0, UInt64(bytes.count - position) >= length else {
        throw .corrupt("the \(section) section's run \(runs.count) is cut short")
      }
      guard offset >= end, runs.isEmpty || offset > end, offset <= size, length <= size - offset
      else {
        throw .corrupt(
          "the \(section) section's run \(runs.count) (offset \(offset), \(length) bytes) is out of order or outside the image"
        )
      }
      runs.append(Run(offset: offset, bytes: Array(bytes[position..<position + Int(length)])))
      position += Int(length)
      end = offset + length
    }
    guard position == bytes.count else {
      throw .corrupt("\(bytes.count - position) bytes after the \(section) section's last run")
    }
    return SparseImage(size: size, runs: runs)
  }
}

extension Array where Element == UInt8 {
  mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }

  func readLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
    var value: T = 0
    for index in 0..<MemoryLayout<T>.size {
      value |= T(self[offset + index]) << (8 * index)
    }
    return value
  }
}
