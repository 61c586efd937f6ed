/// The node's side of chunked bulk transfer: chunks in any order, duplicates tolerated,
/// chunks of zeros left out of sparse transfers (storage starts zeroed),
/// every offset and length checked, the SHA-256 (FIPS 180-4) verified at commit. A transfer
/// that fails, is aborted or stops receiving chunks for `idleTimeout` is dropped and its
/// storage released at once; at most `maximumTransfers` are open, each at most `maximumSize`.
public struct TransferAssembler<Storage: TransferStorage> {
  public struct Limits: Equatable {
    public var maximumSize: UInt64 = 128 << 20
    public var maximumTransfers = 4
    /// Milliseconds without a chunk after which a transfer counts as cut off.
    public var idleTimeout: UInt64 = 30_000
    public var chunkSize = ProtocolLimits.maximumChunkSize

    public init() {}
  }

  private struct OpenTransfer {
    var id: UInt32
    var description: TransferDescription
    var storage: Storage
    /// One bit per chunk: received.
    var received: [UInt64]
    var receivedBytes: UInt64
    var lastActivity: UInt64
  }

  /// A verified image, handed to whoever keeps images (who releases its storage).
  public struct Completed {
    public var name: [UInt8]
    public var size: UInt64
    public var digest: [UInt8]
    public var storage: Storage
  }

  public let limits: Limits
  private var open: [OpenTransfer] = []
  private var lastID: UInt32 = 0
  /// Transfers that expired lately, so that their late chunks get `transferExpired`, not
  /// `unknownTransfer` (the last `recentlyExpiredCount`).
  private var recentlyExpired: [UInt32] = []
  private static var recentlyExpiredCount: Int { 8 }

  public init(limits: Limits = Limits()) {
    precondition(limits.chunkSize > 0 && limits.chunkSize <= ProtocolLimits.maximumChunkSize)
    self.limits = limits
  }

  public var openTransfers: Int { open.count }
  /// Bytes of storage the open transfers hold.
  public var bufferedBytes: UInt64 { open.reduce(0) { $0 + $1.description.size } }

  /// The answer to a transfer request, and the image when a commit completed one; nil for
  /// requests of other kinds.
  public mutating func handle(_ request: Request, now: UInt64) -> (Response, Completed?)? {
    do throws(ControlFailure) {
      switch request {
      case .transferBegin(let description):
        return (.transferBegun(try begin(description, now: now)), nil)
      case .transferChunk(let chunk):
        return (.chunkAccepted(try accept(chunk, now: now)), nil)
      case .transferEnd(let id):
        let completed = try commit(transferID: id)
        let receipt = TransferReceipt(
          name: completed.name, size: completed.size, digest: completed.digest)
        return (.transferCommitted(receipt), completed)
      case .transferAbort(let id):
        try abort(transferID: id)
        return (.done, nil)
      default:
        return nil
      }
    } catch {
      return (.failure(error), nil)
    }
  }

  public mutating func begin(_ description: TransferDescription, now: UInt64) throws(ControlFailure)
    -> TransferTicket
  {
    guard !description.name.isEmpty else {
      throw ControlFailure(.invalidProfile, text: "the image name is empty")
    }
    guard description.size <= limits.maximumSize, description.size <= UInt64(Int.max) else {
      throw ControlFailure(.transferTooLarge)
    }
    guard open.count < limits.maximumTransfers else { throw ControlFailure(.tooManyTransfers) }
    guard !open.contains(where: { $0.description.name == description.name }) else {
      throw ControlFailure(.nameInUse, text: "a transfer of that name is open")
    }
    guard let storage = Storage(size: Int(description.size)) else {
      throw ControlFailure(.insufficientMemory)
    }
    lastID = lastID == UInt32.max ? 1 : lastID + 1
    let chunks = (Int(description.size) + limits.chunkSize - 1) / limits.chunkSize
    open.append(
      OpenTransfer(
        id: lastID, description: description, storage: storage,
        received: [UInt64](repeating: 0, count: (chunks + 63) / 64), receivedBytes: 0,
        lastActivity: now))
    return TransferTicket(transferID: lastID, chunkSize: UInt16(limits.chunkSize))
  }

  public mutating func accept(_ chunk: TransferChunk, now: UInt64) throws(ControlFailure)
    -> TransferProgress
  {
    let index = try openIndex(chunk.transferID)
    let size = open[index].description.size
    let chunkSize = UInt64(limits.chunkSize)
    // A chunk starts on a chunk boundary inside the image and is a whole chunk, or the
    // image's tail.
    guard chunk.offset < size, chunk.offset % chunkSize == 0,
      UInt64(chunk.bytes.count) == min(chunkSize, size - chunk.offset)
    else {
      throw ControlFailure(.chunkOutOfBounds)
    }
    open[index].lastActivity = now
    let number = Int(chunk.offset / chunkSize)
    let bit: UInt64 = 1 << UInt64(number % 64)
    if open[index].received[number / 64] & bit == 0 {
      open[index].storage.write(chunk.bytes, at: Int(chunk.offset))
      open[index].received[number / 64] |= bit
      open[index].receivedBytes += UInt64(chunk.bytes.count)
    }
    return TransferProgress(receivedBytes: open[index].receivedBytes, size: size)
  }

  /// Checks completeness and the digest; the transfer is closed either way.
  public mutating func commit(transferID: UInt32) throws(ControlFailure) -> Completed {
    let index = try openIndex(transferID)
    var transfer = open.remove(at: index)
    let size = Int(transfer.description.size)
    // A sparse transfer leaves its chunks of zeros out (the storage starts zeroed): the
    // digest of the whole image, below, is what says nothing is missing.
    guard transfer.description.sparse || transfer.receivedBytes == transfer.description.size
    else {
      transfer.storage.release()
      throw ControlFailure(.transferIncomplete)
    }
    var hasher = SHA256Hasher()
    var offset = 0
    while offset < size {
      let count = min(4096, size - offset)
      hasher.update(transfer.storage.read(at: offset, count: count))
      offset += count
    }
    let digest = hasher.finalize()
    guard ConstantTime.equals(digest, transfer.description.digest) else {
      transfer.storage.release()
      throw ControlFailure(.digestMismatch)
    }
    return Completed(
      name: transfer.description.name, size: transfer.description.size, digest: digest,
      storage: transfer.storage)
  }

  public mutating func abort(transferID: UInt32) throws(ControlFailure) {
    let index = try openIndex(transferID)
    var transfer = open.remove(at: index)
    transfer.storage.release()
  }

  /// Closes the transfers that have had no chunk for `idleTimeout`, releasing their storage;
  /// returns their ids. The node calls it now and then (a timer, or before each request).
  public mutating func expire(now: UInt64) -> [UInt32] {
    var expired: [UInt32] = []
    var index = 0
    while index < open.count {
      if now >= open[index].lastActivity && now - open[index].lastActivity >= limits.idleTimeout {
        var transfer = open.remove(at: index)
        transfer.storage.release()
        expired.append(transfer.id)
        recentlyExpired.append(transfer.id)
        if recentlyExpired.count > TransferAssembler.recentlyExpiredCount {
          recentlyExpired.removeFirst()
        }
      } else {
        index += 1
      }
    }
    return expired
  }

  private func openIndex(_ id: UInt32) throws(ControlFailure) -> Int {
    for index in open.indices where open[index].id == id { return index }
    throw ControlFailure(recentlyExpired.contains(id) ? .transferExpired : .unknownTransfer)
  }
}
