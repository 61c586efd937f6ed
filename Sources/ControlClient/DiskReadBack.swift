import ControlProtocol

/// A VM's disk as read back from its node: every byte, and how the reading went.
public struct DiskReadBack: Equatable {
  public var image: [UInt8]
  /// `diskRead` requests it took (one per chunk that is not all zeros, plus one per scanned
  /// stretch of zeros).
  public var requests: Int
  /// Chunks the node sent (not all zeros).
  public var dataChunks: Int
}

extension ControlClient {
  /// Reads VM `name`'s disk (paused or ended) chunk after chunk, the node skipping chunks of
  /// zeros, then asks the node for the SHA-256 of the whole disk and checks what it read
  /// against it (`digestMismatch` otherwise: the disk changed, or bytes were lost).
  public func readDisk(
    of name: [UInt8], progress: (UInt64, UInt64) -> Void = { _, _ in }
  ) throws(ControlClientError) -> DiskReadBack {
    var image: [UInt8] = []
    var size: UInt64? = nil
    var offset: UInt64 = 0
    var requests = 0
    var dataChunks = 0
    repeat {
      let request = Request.diskRead(
        name: name, offset: offset, maximumLength: UInt16(ProtocolLimits.maximumDiskReadBytes))
      guard case .diskData(let data) = try perform(request) else {
        throw .refused(ControlFailure(.internalError, text: "unexpected answer to a disk read"))
      }
      requests += 1
      if size == nil {
        guard data.size <= UInt64(Int.max) else {
          throw .refused(ControlFailure(.malformed, text: "the disk's size is too large"))
        }
        size = data.size
        image = [UInt8](repeating: 0, count: Int(data.size))
      }
      // The node answers from where it was asked on, within the disk whose size it said.
      guard data.size == size, data.offset >= offset,
        data.offset + UInt64(data.bytes.count) <= data.size,
        !(data.bytes.isEmpty && data.offset == offset && offset < data.size)
      else {
        throw .refused(
          ControlFailure(.malformed, text: "the node's disk answer does not follow the request"))
      }
      if !data.bytes.isEmpty {
        image.replaceSubrange(
          Int(data.offset)..<Int(data.offset) + data.bytes.count, with: data.bytes)
        dataChunks += 1
      }
      offset = data.offset + UInt64(data.bytes.count)
      progress(offset, data.size)
    } while offset < size!
    // The node hashes the disk a slice per request, answering "still hashing" until done.
    guard
      case .diskDigest(let digest) = try performHashing(
        .diskDigest(name: name), maximumRounds: 64 + image.count / 16384)
    else {
      throw .refused(ControlFailure(.internalError, text: "unexpected answer to a disk digest"))
    }
    guard digest.size == UInt64(image.count), digest.digest == ImageDigest.sha256(image) else {
      throw .refused(
        ControlFailure(
          .digestMismatch, text: "the disk read back does not match the node's SHA-256"))
    }
    return DiskReadBack(image: image, requests: requests, dataChunks: dataChunks)
  }
}
