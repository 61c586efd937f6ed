/// The node's side of the protocol, as a value: it authenticates each datagram, refuses
/// replays, answers retransmissions from its cache, and hands new requests over.
///
/// Order (docs/control-protocol.md, "Receiving"): structure and tag (`Datagram.open`: a
/// forgery costs one HMAC and changes nothing), direction, epoch, replay window
/// (RFC 4303 §3.4.3, checked only after the tag), response cache, payload. Every refusal is
/// counted in `counters` and leaves windows and cache as they were.
public struct ControlReceiver {
  public struct Configuration {
    /// Clients whose replay windows are kept (`ClientWindows`).
    public var clients = 32
    /// Responses kept for retransmitted requests (`ResponseCache`).
    public var cachedResponses = 16

    public init() {}
  }

  /// The node's boot epoch: chosen at boot, never the same twice (docs/control-protocol.md).
  public let epoch: UInt64
  public private(set) var counters = ReceiverCounters()
  private let key: HMACSHA256
  private var windows: ClientWindows
  private var cache: ResponseCache

  public init(key: [UInt8], epoch: UInt64, configuration: Configuration = Configuration()) {
    self.key = HMACSHA256(key: key)
    self.epoch = epoch
    windows = ClientWindows(capacity: configuration.clients)
    cache = ResponseCache(capacity: configuration.cachedResponses)
  }

  public mutating func receive(_ bytes: [UInt8]) -> ReceiveDecision {
    let datagram: Datagram
    do throws(DatagramRefusal) {
      datagram = try Datagram.open(bytes, with: key)
    } catch {
      switch error {
      case .unauthenticated:
        counters.refusedUnauthenticated += 1
        return .drop(.unauthenticated)
      case .malformed(let reason):
        counters.refusedMalformed += 1
        return .drop(.malformed(reason))
      }
    }
    let header = datagram.header
    // A response sent back to the node is not a request (DatagramFlags.response).
    guard !header.isResponse else {
      counters.refusedMalformed += 1
      return .drop(.malformed(.invalidValue(at: 6)))
    }
    let tag = Array(bytes[(bytes.count - HMACSHA256.tagSize)...])
    guard header.epoch == epoch else {
      counters.refusedStaleEpoch += 1
      return .send(refusal(.staleEpoch, to: header))
    }
    switch windows.verdict(clientID: header.clientID, sequence: header.sequence) {
    case .new:
      break
    case .duplicate, .tooOld:
      switch cache.lookup(clientID: header.clientID, sequence: header.sequence, requestTag: tag) {
      case .answered(let response):
        counters.duplicates += 1
        return .send(response)
      case .pending:
        counters.duplicates += 1
        return .drop(.inProgress)
      case .missing:
        counters.refusedReplayed += 1
        return .send(refusal(.replayed, to: header))
      }
    }
    windows.record(clientID: header.clientID, sequence: header.sequence)
    cache.markPending(clientID: header.clientID, sequence: header.sequence, requestTag: tag)
    let request: Request
    do throws(WireError) {
      request = try Request.decode(kind: header.kind, payload: datagram.payload)
    } catch {
      // Authentic and new, but not a request this version knows: answered (and cached),
      // so that the client learns why rather than timing out.
      counters.refusedMalformed += 1
      return .send(
        sealAndCache(
          .failure(ControlFailure(.malformed, detail: error.message.bytes)), kind: header.kind,
          clientID: header.clientID, sequence: header.sequence))
    }
    counters.accepted += 1
    return .execute(
      AcceptedRequest(
        clientID: header.clientID, sequence: header.sequence, request: request, requestTag: tag))
  }

  /// The datagram answering `request`, kept in the cache for its retransmissions. A response
  /// that does not fit the protocol's limits is replaced by an `internalError` failure.
  @discardableResult
  public mutating func respond(to request: AcceptedRequest, with response: Response) -> [UInt8] {
    sealAndCache(
      response, kind: request.kind, clientID: request.clientID, sequence: request.sequence)
  }

  private mutating func sealAndCache(
    _ response: Response, kind: MessageKind, clientID: UInt32, sequence: UInt64
  ) -> [UInt8] {
    let header = DatagramHeader(
      kind: kind, isResponse: true, clientID: clientID, epoch: epoch, sequence: sequence)
    let bytes = sealed(response, header: header)
    cache.store(bytes, clientID: clientID, sequence: sequence)
    return bytes
  }

  /// An authenticated refusal (not cached: it executed nothing).
  private func refusal(_ code: StatusCode, to request: DatagramHeader) -> [UInt8] {
    let header = DatagramHeader(
      kind: request.kind, isResponse: true, clientID: request.clientID, epoch: epoch,
      sequence: request.sequence)
    let failure = ControlFailure(code, nextSequence: windows.nextSequence(for: request.clientID))
    return sealed(.failure(failure), header: header)
  }

  private func sealed(_ response: Response, header: DatagramHeader) -> [UInt8] {
    var payload: [UInt8]
    do throws(WireError) {
      payload = try response.encodedPayload(for: header.kind)
    } catch {
      // A failure with a short detail always encodes.
      let failure = ControlFailure(
        .internalError, text: "the node's answer broke the protocol's limits")
      payload = (try? Response.failure(failure).encodedPayload(for: header.kind)) ?? []
    }
    do throws(WireError) {
      return try Datagram(header: header, payload: payload).sealed(with: key)
    } catch {
      // Unreachable: payloads are checked against maximumPayload when encoded.
      return []
    }
  }
}
