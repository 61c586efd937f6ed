/// The node's side of chunked bulk transfer: chunks in any order, duplicates tolerated,
/// chunks of zeros left out of sparse transfers (storage starts zeroed),
/// every offset and length checked, the SHA-256 (FIPS 180-4) verified at commit. A transfer
/// that fails, is aborted or stops receiving chunks for `idleTimeout` is dropped and its
/// storage released at once; at most `maximumTransfers` are open, each at most `maximumSize`.
///
/// The digest is computed as the chunks come, not at commit: each request hashes at most
/// `hashBytesPerRequest` of the image, in order from its start (`ImageDigestFrontier`), so
/// no request stalls the node's control loop for the whole image (a 64 MiB image took ~3 s
/// of CPU 0 in one `transfer end` under emulation). A `transfer end` that finds hashing
/// still to do does its share and answers `busy` ("still hashing"); the client asks again.
public struct TransferAssembler<Storage: TransferStorage> {
  public struct Limits: Equatable {
    public var maximumSize: UInt64 = 128 << 20
    public var maximumTransfers = 4
    /// Milliseconds without a chunk after which a transfer counts as cut off.
    public var idleTimeout: UInt64 = 30_000
    public var chunkSize = ProtocolLimits.maximumChunkSize
    /// Bytes of the image one request may hash (~12 ms of CPU 0 under QEMU's emulation,
    /// well under a millisecond on hardware).
    public var hashBytesPerRequest = 256 << 10

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
    var digest: ImageDigestFrontier
    /// Chunks up to the highest one received: a sparse transfer's chunks not received
    /// below it are taken for zeros left out (and hashed as such) until one of them comes.
    var chunksThroughHighest: Int
    /// `transfer end` came: every chunk not received is one of zeros (sparse) or missing.
    var ended: Bool

    func isReceived(_ number: Int) -> Bool {
      received[number / 64] & (1 << UInt64(number % 64)) != 0
    }
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
  /// How far the digest of transfer `id` has got (bytes from the image's start), and how
  /// often it started over (a chunk of data came where zeros had been hashed); nil when
  /// no such transfer is open.
  public func hashing(of id: UInt32) -> (hashedBytes: UInt64, restarts: Int)? {
    guard let transfer = open.first(where: { $0.id == id }) else { return nil }
    return (UInt64(transfer.digest.hashedBytes), transfer.digest.restarts)
  }
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
        guard
          let completed = try commit(transferID: id, now: now, budget: limits.hashBytesPerRequest)
        else {
          return (.failure(ControlFailure(.busy, text: "still hashing the image: ask again")), nil)
        }
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
        lastActivity: now, digest: ImageDigestFrontier(size: Int(description.size)),
        chunksThroughHighest: 0, ended: false))
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
      open[index].chunksThroughHighest = max(open[index].chunksThroughHighest, number + 1)
      // Data where the digest already took zeros (a sparse transfer's chunk that came
      // late, after a later one): what was hashed is wrong, start over. A chunk of zeros
      // there changed nothing.
      if Int(chunk.offset) < open[index].digest.hashedBytes
        && chunk.bytes.contains(where: { $0 != 0 })
      {
        open[index].digest.restart()
      }
    }
    advanceDigest(index, budget: limits.hashBytesPerRequest)
    return TransferProgress(receivedBytes: open[index].receivedBytes, size: size)
  }

  /// Hashes up to `budget` more bytes of transfer `index`, chunk by chunk in order, as far
  /// as the chunks are known: received, or (sparse) left out as zeros — below a chunk
  /// received after them, or anywhere once `transfer end` came. Storage is zeroed at
  /// `begin`, so a chunk left out reads as the zeros it stands for.
  private mutating func advanceDigest(_ index: Int, budget: Int) {
    let chunkSize = limits.chunkSize
    let size = Int(open[index].description.size)
    let sparse = open[index].description.sparse
    var left = budget
    while open[index].digest.hashedBytes < size && left > 0 {
      let offset = open[index].digest.hashedBytes
      let number = offset / chunkSize
      let known =
        open[index].isReceived(number)
        || (sparse && (open[index].ended || number < open[index].chunksThroughHighest))
      guard known else { break }
      let count = min(chunkSize, size - offset)
      open[index].digest.absorb(open[index].storage.read(at: offset, count: count))
      left -= count
    }
  }

  /// Checks completeness and the digest, hashing whatever is left at once; the transfer is
  /// closed either way. The node's requests use `commit(transferID:now:budget:)`.
  public mutating func commit(transferID: UInt32) throws(ControlFailure) -> Completed {
    guard let completed = try commit(transferID: transferID, now: 0, budget: Int.max) else {
      preconditionFailure("an unbounded commit hashes everything")
    }
    return completed
  }

  /// `transfer end`: checks completeness, then hashes at most `budget` more bytes. nil when
  /// the digest is not done yet (the transfer stays open and `now` counts as activity:
  /// ask again); otherwise the image, or the failure, and the transfer is closed.
  public mutating func commit(transferID: UInt32, now: UInt64, budget: Int) throws(ControlFailure)
    -> Completed?
  {
    let index = try openIndex(transferID)
    // A sparse transfer leaves its chunks of zeros out (the storage starts zeroed): the
    // digest of the whole image, below, is what says nothing is missing.
    guard
      open[index].description.sparse || open[index].receivedBytes == open[index].description.size
    else {
      var transfer = open.remove(at: index)
      transfer.storage.release()
      throw ControlFailure(.transferIncomplete)
    }
    open[index].ended = true
    open[index].lastActivity = max(open[index].lastActivity, now)
    advanceDigest(index, budget: budget)
    guard open[index].digest.isComplete else { return nil }
    var transfer = open.remove(at: index)
    let digest = transfer.digest.finalize()
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
