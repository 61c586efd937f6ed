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

  private struct InFlight {
    var offset: Int
    var outgoing: OutgoingRequest
    var machine: Retransmission
  }

  private func sendChunks(
    of image: [UInt8], ticket: TransferTicket, window: Int, sparse: Bool,
    progress: (UInt64, UInt64) -> Void
  ) throws(ControlClientError) {
    let chunkSize = Int(ticket.chunkSize)
    guard chunkSize > 0 else {
      throw .refused(ControlFailure(.internalError, text: "chunk size 0"))
    }
    func chunk(at offset: Int) -> TransferChunk {
      let end = min(image.count, offset + chunkSize)
      return TransferChunk(
        transferID: ticket.transferID, offset: UInt64(offset), bytes: Array(image[offset..<end]))
    }
    var nextOffset = 0
    var inFlight: [InFlight] = []
    var done: UInt64 = 0
    while nextOffset < image.count || !inFlight.isEmpty {
      // Fill the window (leaving out chunks of zeros when sparse).
      while inFlight.count < window && nextOffset < image.count {
        let end = min(image.count, nextOffset + chunkSize)
        if sparse && ZeroDetection.isZero(image, nextOffset..<end) {
          lastTransferCounts.skippedChunks += 1
          done += UInt64(end - nextOffset)
          nextOffset = end
          continue
        }
        inFlight.append(try start(.transferChunk(chunk(at: nextOffset)), offset: nextOffset))
        lastTransferCounts.sentChunks += 1
        nextOffset = end
      }
      if inFlight.isEmpty {
        progress(done, UInt64(image.count))
        continue
      }
      // Wait for an answer or the earliest deadline.
      let deadline = inFlight.map(\.machine.deadline).min()!
      let now = Clock.milliseconds()
      if now < deadline, let bytes = try socket.receive(timeout: deadline - now) {
        let (index, answer) = session.interpret(bytes, among: inFlight.map(\.outgoing))
        guard let index else { continue }
        switch answer {
        case .response(.chunkAccepted):
          let offset = inFlight[index].offset
          inFlight.remove(at: index)
          done += UInt64(min(image.count, offset + chunkSize) - offset)
          progress(done, UInt64(image.count))
        case .response(.failure(let failure)):
          throw .refused(failure)
        case .resend, .sequenceRefused:
          // Sealed again with a new sequence number: the node executed nothing, or the
          // chunk was stored already (chunks are idempotent).
          let offset = inFlight[index].offset
          inFlight[index] = try start(.transferChunk(chunk(at: offset)), offset: offset)
        default:
          throw .refused(ControlFailure(.internalError, text: "unexpected answer to a chunk"))
        }
        continue
      }
      // Deadlines passed: send those again, or give up.
      let later = Clock.milliseconds()
      for index in inFlight.indices where inFlight[index].machine.deadline <= later {
        switch inFlight[index].machine.timeout(now: later) {
        case .send: try socket.send(inFlight[index].outgoing.bytes)
        case .wait: break
        case .giveUp(let noAnswer): throw .noAnswer(noAnswer, host: host, port: port)
        }
      }
    }
  }

  private func start(_ request: Request, offset: Int) throws(ControlClientError) -> InFlight {
    let outgoing: OutgoingRequest
    do throws(WireError) {
      outgoing = try session.seal(request)
    } catch {
      throw .encoding(error)
    }
    var machine = Retransmission(policy: policy)
    _ = machine.start(now: Clock.milliseconds())
    try socket.send(outgoing.bytes)
    return InFlight(offset: offset, outgoing: outgoing, machine: machine)
  }
}
