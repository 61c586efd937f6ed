import ControlProtocol

/// What the last transfer sent: chunks sent, and chunks of zeros a sparse transfer left out.
public struct TransferCounts: Equatable {
  public var sentChunks = 0
  public var skippedChunks = 0
  public init() {}
}

extension ControlClient {
  /// Sends `image` to the node as `name` in chunks, `window` of them in flight at once, each
  /// with its own retransmission; `progress` gets the bytes the node has acknowledged (and,
  /// when `sparse`, the chunks of zeros left out) and the total after each chunk. Returns
  /// the node's receipt once it has checked the SHA-256. `sparse`: chunks of zeros are not
  /// sent (the node's storage starts zeroed; the digest still covers the whole image). On
  /// any error the transfer is aborted on the node (its buffer freed) and the error thrown.
  public func transfer(
    _ image: [UInt8], as name: [UInt8], window: Int = 16, sparse: Bool = false,
    progress: (UInt64, UInt64) -> Void = { _, _ in }
  ) throws(ControlClientError) -> TransferReceipt {
    let digest = ImageDigest.sha256(image)
    let description = TransferDescription(
      name: name, size: UInt64(image.count), digest: digest, sparse: sparse)
    lastTransferCounts = TransferCounts()
    guard case .transferBegun(let ticket) = try perform(.transferBegin(description)) else {
      throw .refused(ControlFailure(.internalError, text: "unexpected answer to transferBegin"))
    }
    do throws(ControlClientError) {
      try sendChunks(
        of: image, ticket: ticket, window: max(1, window), sparse: sparse, progress: progress)
      // The node hashed the chunks as they came; what is left (a sparse image's zeros
      // after its last chunk of data) it hashes a slice per request, answering "still
      // hashing" until done: one round per 256 KiB at least, so a generous bound.
      guard
        case .transferCommitted(let receipt) = try performHashing(
          .transferEnd(transferID: ticket.transferID), maximumRounds: 64 + image.count / 16384),
        receipt.digest == digest, receipt.size == UInt64(image.count)
      else {
        throw .refused(ControlFailure(.digestMismatch))
      }
      return receipt
    } catch {
      _ = try? send(.transferAbort(transferID: ticket.transferID))
      throw error
    }
  }

  /// Reads `path` and sends it (`transfer(_:as:window:progress:)`).
  public func transferFile(
    at path: String, as name: [UInt8], window: Int = 16,
    progress: (UInt64, UInt64) -> Void = { _, _ in }
  ) throws(ControlClientError) -> TransferReceipt {
    guard let image = readFile(path) else { throw .unreadableFile(path) }
    return try transfer(image, as: name, window: window, progress: progress)
  }

  private func sendChunks(
    of image: [UInt8], ticket: TransferTicket, window: Int, sparse: Bool,
    progress: (UInt64, UInt64) -> Void
  ) throws(ControlClientError) {
    let chunkSize = Int(ticket.chunkSize)
    guard chunkSize > 0 else {
      throw .refused(ControlFailure(.internalError, text: "chunk size 0"))
    }
    // The chunks to send: every one, or (sparse) those that are not all zeros.
    var offsets: [Int] = []
    var done: UInt64 = 0
    for offset in stride(from: 0, to: image.count, by: chunkSize) {
      let end = min(image.count, offset + chunkSize)
      if sparse && ZeroDetection.isZero(image, offset..<end) {
        lastTransferCounts.skippedChunks += 1
        done += UInt64(end - offset)
      } else {
        offsets.append(offset)
      }
    }
    lastTransferCounts.sentChunks = offsets.count
    if done > 0 { progress(done, UInt64(image.count)) }
    // Chunks are idempotent: one sealed again (resend) was stored once or not at all.
    try windowed(
      slots: offsets.count, window: window,
      request: { index in
        let offset = offsets[index]
        let end = min(image.count, offset + chunkSize)
        return .transferChunk(
          TransferChunk(
            transferID: ticket.transferID, offset: UInt64(offset),
            bytes: Array(image[offset..<end])))
      }
    ) { (index, response) throws(ControlClientError) in
      guard case .chunkAccepted = response else {
        throw .refused(ControlFailure(.internalError, text: "unexpected answer to a chunk"))
      }
      let offset = offsets[index]
      done += UInt64(min(image.count, offset + chunkSize) - offset)
      progress(done, UInt64(image.count))
      return .done
    }
  }
}
