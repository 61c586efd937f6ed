import ControlClient
import Foundation

/// The CLI's disk images (docs/cli.md, "Disk images"): sparse files in
/// `$PEREGRINE_HOME/images`, `NAME.img` with `NAME.json` beside it (when it was made and how).
/// Zeros are never written: a new image is a hole of its size, and imports and saves
/// write only the 4 KiB blocks that hold something, so an image takes the disk space of
/// its data.
public struct DiskImageStore {
  public var directory: URL

  public init(directory: URL) { self.directory = directory }

  /// What `NAME.json` records.
  public struct Record: Codable, Equatable {
    public var created: Date
    /// "raw", "ext4", "import" (of a file), "save" (of a VM's disk).
    public var origin: String
  }

  public struct Entry: Equatable, Encodable {
    public var name: String
    public var size: UInt64
    /// Bytes the file takes on the host's disk (its blocks): a sparse image's data only.
    public var allocatedBytes: UInt64
    public var created: Date
    public var modified: Date
    public var origin: String
  }

  public static let maximumNameLength = 48
  /// Blocks tested for zeros when writing an image.
  static let blockSize = 4096

  public func file(_ name: String) -> URL { directory.appendingPathComponent(name + ".img") }
  func recordFile(_ name: String) -> URL { directory.appendingPathComponent(name + ".json") }

  public func exists(_ name: String) -> Bool {
    FileManager.default.fileExists(atPath: file(name).path)
  }

  /// Letters, digits, '-', '_' and '.', not starting with '.', at most 48: it becomes a file
  /// name here and part of the transfer's name on the node (VM.disk).
  public static func checkName(_ name: String) throws {
    let allowed = name.utf8.allSatisfy { byte in
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a)
        || (byte >= 0x61 && byte <= 0x7a) || byte == 0x2d || byte == 0x5f || byte == 0x2e
    }
    guard !name.isEmpty, name.count <= maximumNameLength, allowed, !name.hasPrefix(".") else {
      throw CLIError(
        .usage,
        "'\(name)' is not an image name: 1 to \(maximumNameLength) letters, digits, '-', '_' or '.', not starting with '.'"
      )
    }
  }

  /// "500M", "2G", "64MiB", "1048576": a whole number of MiB, at least 1 MiB.
  public static func parseSize(_ text: String) throws -> UInt64 {
    let bad = CLIError(
      .usage,
      "'\(text)' is not a disk size: a whole number of MiB with K, M, G or T (500M, 2G), at least 1M",
      hint: "e.g. --size 500M")
    var digits = Substring(text)
    var unit: UInt64 = 1
    for suffix in ["KiB", "MiB", "GiB", "TiB", "K", "M", "G", "T"] where digits.hasSuffix(suffix) {
      unit = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40][String(suffix.prefix(1))]!
      digits = digits.dropLast(suffix.count)
      break
    }
    guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
      let value = UInt64(digits), value > 0
    else { throw bad }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: unit)
    guard !overflow, bytes >= 1 << 20, bytes % (1 << 20) == 0, bytes <= 1 << 40 else { throw bad }
    return bytes
  }

  public func prepare() throws {
    try FileManager.default.createDirectory(
      at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
  }

  /// Refuses a name already in the store.
  public func checkFree(_ name: String) throws {
    try Self.checkName(name)
    if exists(name) {
      throw CLIError(
        .cannotCreate, "an image named '\(name)' is already in the store (\(file(name).path))",
        hint: "pick another name, or `peregrine image remove \(name)` first")
    }
  }

  /// An empty (all-zero, sparse) image of `size` bytes.
  public func createEmpty(_ name: String, size: UInt64, origin: String = "raw") throws {
    try checkFree(name)
    try prepare()
    try SparseFile.write(to: file(name), size: size, blocks: [])
    try writeRecord(name, origin: origin)
  }

  /// `image` into the store as `name`, sparse; replaces an image of that name only when
  /// `replacing` (a save), and then atomically (a rename), so a failure leaves the old one.
  public func store(_ image: [UInt8], as name: String, origin: String, replacing: Bool) throws {
    if !replacing { try checkFree(name) } else { try Self.checkName(name) }
    try prepare()
    let keepCreated = replacing ? try? readRecord(name) : nil
    try SparseFile.write(image, to: file(name))
    try writeRecord(name, origin: origin, created: keepCreated?.created)
  }

  /// The image's bytes.
  public func read(_ name: String) throws -> [UInt8] {
    try Self.checkName(name)
    guard exists(name) else { throw missing(name) }
    guard let data = FileManager.default.contents(atPath: file(name).path) else {
      throw CLIError(.noInput, "cannot read \(file(name).path)")
    }
    return [UInt8](data)
  }

  public func missing(_ name: String) -> CLIError {
    CLIError(
      .noInput, "there is no image named '\(name)' in the store (\(directory.path))",
      hint: "`peregrine image list` shows the images; `peregrine image create` makes one")
  }

  public func remove(_ name: String) throws {
    try Self.checkName(name)
    guard exists(name) else { throw missing(name) }
    try FileManager.default.removeItem(at: file(name))
    try? FileManager.default.removeItem(at: recordFile(name))
  }

  public func list() throws -> [Entry] {
    guard
      let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
    else { return [] }
    return try names.filter { $0.hasSuffix(".img") }.sorted().map { fileName in
      let name = String(fileName.dropLast(4))
      var info = stat()
      guard stat(file(name).path, &info) == 0 else {
        throw CLIError(.noInput, "cannot read \(file(name).path)")
      }
      let modified = Date(
        timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
      let record = try? readRecord(name)
      return Entry(
        name: name, size: UInt64(info.st_size), allocatedBytes: UInt64(info.st_blocks) * 512,
        created: record?.created ?? modified, modified: modified,
        origin: record?.origin ?? "unknown")
    }
  }

  func writeRecord(_ name: String, origin: String, created: Date? = nil) throws {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(Record(created: created ?? Date(), origin: origin))
    try data.write(to: recordFile(name), options: .atomic)
  }

  func readRecord(_ name: String) throws -> Record {
    let data = try Data(contentsOf: recordFile(name))
    return try ClusterState.decoder.decode(Record.self, from: data)
  }
}

/// Writing files with holes where the data is zeros (lseek past them; ftruncate sets the
/// size), through a temporary file renamed into place.
enum SparseFile {
  /// `image` to `url`, its all-zero 4 KiB blocks left as holes.
  static func write(_ image: [UInt8], to url: URL) throws {
    var blocks: [(offset: Int, bytes: ArraySlice<UInt8>)] = []
    var offset = 0
    while offset < image.count {
      let end = min(image.count, offset + DiskImageStore.blockSize)
      if !ZeroDetection.isZero(image, offset..<end) { blocks.append((offset, image[offset..<end])) }
      offset = end
    }
    try write(to: url, size: UInt64(image.count), blocks: blocks)
  }

  static func write(
    to url: URL, size: UInt64, blocks: [(offset: Int, bytes: ArraySlice<UInt8>)]
  ) throws {
    let temporary = url.deletingLastPathComponent().appendingPathComponent(
      ".\(url.lastPathComponent).\(getpid()).partial")
    let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard descriptor >= 0 else {
      throw CLIError(
        .failure, "cannot create \(temporary.path): \(String(cString: strerror(errno)))")
    }
    var failed: String? = nil
    for block in blocks where failed == nil {
      let written = block.bytes.withUnsafeBytes {
        pwrite(descriptor, $0.baseAddress, $0.count, off_t(block.offset))
      }
      if written != block.bytes.count { failed = String(cString: strerror(errno)) }
    }
    if failed == nil && ftruncate(descriptor, off_t(size)) != 0 {
      failed = String(cString: strerror(errno))
    }
    if failed == nil && fsync(descriptor) != 0 { failed = String(cString: strerror(errno)) }
    close(descriptor)
    if failed == nil && rename(temporary.path, url.path) != 0 {
      failed = String(cString: strerror(errno))
    }
    if let failed {
      unlink(temporary.path)
      throw CLIError(.failure, "cannot write \(url.path): \(failed)")
    }
  }
}
