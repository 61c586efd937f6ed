/// The answer to `diskRead`: bytes of a VM's disk. The node skips chunks that are all zeros
/// (a fresh disk is mostly zeros), so `offset` may lie beyond the offset asked for; an answer
/// with no bytes says everything from the offset asked for up to `offset` is zeros (the
/// node scans a bounded stretch per request; ask again from `offset` while it is below
/// `size`).
public struct DiskData: Equatable {
  /// The disk's size in bytes.
  public var size: UInt64
  /// Where `bytes` start (a multiple of `ProtocolLimits.maximumDiskReadBytes`).
  public var offset: UInt64
  public var bytes: [UInt8]

  public init(size: UInt64, offset: UInt64, bytes: [UInt8]) {
    self.size = size
    self.offset = offset
    self.bytes = bytes
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    writer.u64(size)
    writer.u64(offset)
    try writer.bytes16(bytes, maximum: ProtocolLimits.maximumDiskReadBytes)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> DiskData {
    let size = try reader.u64()
    let offset = try reader.u64()
    return DiskData(
      size: size, offset: offset,
      bytes: try reader.bytes16(maximum: ProtocolLimits.maximumDiskReadBytes))
  }
}

/// The answer to `diskDigest`: the SHA-256 (FIPS 180-4) of a VM's whole disk, as the node
/// computed it, so a client that read the disk back checks it got every byte.
public struct DiskDigest: Equatable {
  public var size: UInt64
  public var digest: [UInt8]

  public init(size: UInt64, digest: [UInt8]) {
    self.size = size
    self.digest = digest
  }
}

/// Where the next non-zero stretch of a disk starts: the node's side of `diskRead`, kept
/// here so host tests check it. Scans at most `scanLimit` bytes from `offset` (which must
/// be chunk-aligned) in chunks of `chunkSize`, and answers the first chunk not all zeros,
/// or where the scan stopped (the disk's end, or `offset + scanLimit`) with no bytes.
public enum DiskScan {
  public static let chunkSize = ProtocolLimits.maximumDiskReadBytes
  /// Bytes scanned per request at most: bounds the time one request takes on the node.
  public static let scanLimit = 8 << 20

  public static func read(
    _ disk: UnsafeRawBufferPointer, from offset: UInt64, maximumLength: Int
  ) -> DiskData? {
    let size = UInt64(disk.count)
    guard offset % UInt64(chunkSize) == 0, offset <= size else { return nil }
    let length = min(max(maximumLength, 0), chunkSize)
    var position = Int(offset)
    let end = Int(min(size, offset + UInt64(scanLimit)))
    while position < end {
      let chunkEnd = min(position + chunkSize, disk.count)
      if !isZero(disk, from: position, to: chunkEnd) {
        let stop = min(position + length, chunkEnd)
        return DiskData(
          size: size, offset: UInt64(position), bytes: Array(disk[position..<stop]))
      }
      position = chunkEnd
    }
    return DiskData(size: size, offset: UInt64(end), bytes: [])
  }

  /// Whether `bytes[start..<end]` are all zero, eight bytes at a time where aligned.
  static func isZero(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Bool {
    var index = start
    while index < end && (index & 7) != 0 {
      if bytes[index] != 0 { return false }
      index += 1
    }
    while index + 8 <= end {
      if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
      index += 8
    }
    while index < end {
      if bytes[index] != 0 { return false }
      index += 1
    }
    return true
  }
}
