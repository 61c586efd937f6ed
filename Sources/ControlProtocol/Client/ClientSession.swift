/// A client's side of the protocol, as a value: it numbers and seals requests, and checks
/// and decodes what comes back.
public struct ClientSession {
  public let clientID: UInt32
  /// The node's epoch as last heard (0 before the first answer: the first request is
  /// refused as `staleEpoch`, and that refusal tells the epoch).
  public private(set) var epoch: UInt64
  /// The sequence number of the next new request.
  public private(set) var nextSequence: UInt64
  private let key: HMACSHA256

  /// `firstSequence`: above any this client id used before in this epoch; the time in
  /// microseconds since 1970 is (docs/control-protocol.md, "Sequence numbers").
  public init(key: [UInt8], clientID: UInt32, firstSequence: UInt64, epoch: UInt64 = 0) {
    self.key = HMACSHA256(key: key)
    self.clientID = clientID
    self.epoch = epoch
    nextSequence = max(firstSequence, 1)
  }

  /// A sealed request, numbered with the next sequence number.
  public mutating func seal(_ request: Request) throws(WireError) -> OutgoingRequest {
    let header = DatagramHeader(
      kind: request.kind, isResponse: false, clientID: clientID, epoch: epoch,
      sequence: nextSequence)
    let bytes = try Datagram(header: header, payload: try request.encodedPayload()).sealed(
      with: key)
    let outgoing = OutgoingRequest(kind: request.kind, sequence: nextSequence, bytes: bytes)
    nextSequence += 1
    return outgoing
  }

  /// What `bytes` (a datagram that arrived) mean for `outgoing`.
  public mutating func interpret(_ bytes: [UInt8], for outgoing: OutgoingRequest) -> Answer {
    interpret(bytes, among: [outgoing]).answer
  }

  /// What `bytes` mean for whichever of `outgoing` (requests in flight at once) they answer:
  /// its index, or nil for `.unrelated` and `.ignored`. The datagram is authenticated once.
  public mutating func interpret(_ bytes: [UInt8], among outgoing: [OutgoingRequest]) -> (
    index: Int?, answer: Answer
  ) {
    let datagram: Datagram
    do throws(DatagramRefusal) {
      datagram = try Datagram.open(bytes, with: key)
    } catch {
      return (nil, .ignored(error))
    }
    let header = datagram.header
    guard header.isResponse, header.clientID == clientID,
      let index = outgoing.firstIndex(where: {
        $0.sequence == header.sequence && $0.kind == header.kind
      })
    else {
      return (nil, .unrelated)
    }
    let response: Response
    do throws(WireError) {
      response = try Response.decode(kind: header.kind, payload: datagram.payload)
    } catch {
      return (nil, .ignored(.malformed(error)))
    }
    if case .failure(let failure) = response {
      switch failure.code {
      case .staleEpoch:
        epoch = header.epoch
        nextSequence = max(nextSequence, failure.nextSequence)
        return (index, .resend)
      case .replayed:
        nextSequence = max(nextSequence, failure.nextSequence)
        return (index, .sequenceRefused(failure))
      default:
        break
      }
    }
    epoch = header.epoch
    return (index, .response(response))
  }

  public enum Answer: Equatable {
    /// The node's answer to the request.
    case response(Response)
    /// The node restarted (or was never asked): the session now has its epoch; seal the
    /// request again and send it as new. Nothing was executed.
    case resend
    /// The node refused the sequence number as used. If the request was sent only once,
    /// another client with this id used it: seal again (the session has moved on). If it
    /// was sent more than once, the node may have executed it and lost the answer.
    case sequenceRefused(ControlFailure)
    /// Authentic, but the answer to another request (a late answer to an earlier one).
    case unrelated
    /// Not an authentic, well-formed response.
    case ignored(DatagramRefusal)
  }
}

/// A request as sent: what the answer must match.
public struct OutgoingRequest: Equatable {
  public let kind: MessageKind
  public let sequence: UInt64
  public let bytes: [UInt8]

  public init(kind: MessageKind, sequence: UInt64, bytes: [UInt8]) {
    self.kind = kind
    self.sequence = sequence
    self.bytes = bytes
  }
}
