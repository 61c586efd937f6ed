/// `transferBegin`: an image about to be sent in chunks.
public struct TransferDescription: Equatable {
  /// The name the image will have on the node (what `VMSpecification.kernelImage` names).
  public var name: [UInt8]
  public var size: UInt64
  /// SHA-256 of the whole image (FIPS 180-4), checked at `transferEnd`.
  public var digest: [UInt8]
  /// Chunks of zeros are not sent: the node's storage starts zeroed, and `transferEnd`
  /// checks the digest of the whole image instead of every chunk's arrival.
  public var sparse: Bool

  public init(name: [UInt8], size: UInt64, digest: [UInt8], sparse: Bool = false) {
    self.name = name
    self.size = size
    self.digest = digest
    self.sparse = sparse
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    try writer.bytes8(name, maximum: ProtocolLimits.maximumImageNameLength)
    writer.u64(size)
    try writer.fixed(digest, count: SHA256Hasher.digestSize)
    writer.bool(sparse)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> TransferDescription {
    let name = try reader.bytes8(maximum: ProtocolLimits.maximumImageNameLength)
    let size = try reader.u64()
    let digest = try reader.fixed(count: SHA256Hasher.digestSize)
    return TransferDescription(name: name, size: size, digest: digest, sparse: try reader.bool())
  }
}

/// `transferChunk`: bytes of an open transfer at a chunk-aligned offset.
public struct TransferChunk: Equatable {
  public var transferID: UInt32
  public var offset: UInt64
  public var bytes: [UInt8]

  public init(transferID: UInt32, offset: UInt64, bytes: [UInt8]) {
    self.transferID = transferID
    self.offset = offset
    self.bytes = bytes
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    writer.u32(transferID)
    writer.u64(offset)
    try writer.bytes16(bytes, maximum: ProtocolLimits.maximumChunkSize)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> TransferChunk {
    let transferID = try reader.u32()
    let offset = try reader.u64()
    return TransferChunk(
      transferID: transferID, offset: offset,
      bytes: try reader.bytes16(maximum: ProtocolLimits.maximumChunkSize))
  }
}

/// The answer to `transferBegin`: the id to send chunks under, and their size (every chunk
/// but the last is exactly this long, at an offset that is a multiple of it).
public struct TransferTicket: Equatable {
  public var transferID: UInt32
  public var chunkSize: UInt16

  public init(transferID: UInt32, chunkSize: UInt16) {
    self.transferID = transferID
    self.chunkSize = chunkSize
  }
}

/// The answer to a chunk: how much of the image the node holds now.
public struct TransferProgress: Equatable {
  public var receivedBytes: UInt64
  public var size: UInt64

  public init(receivedBytes: UInt64, size: UInt64) {
    self.receivedBytes = receivedBytes
    self.size = size
  }
}

/// The answer to `transferEnd`: the image is complete, its digest checked, and it is known
/// on the node by `name`.
public struct TransferReceipt: Equatable {
  public var name: [UInt8]
  public var size: UInt64
  public var digest: [UInt8]

  public init(name: [UInt8], size: UInt64, digest: [UInt8]) {
    self.name = name
    self.size = size
    self.digest = digest
  }
}
