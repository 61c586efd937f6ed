/// An authentic, new request, handed to the node to execute; answer it with
/// `ControlReceiver.respond(to:with:)`.
public struct AcceptedRequest: Equatable {
  public let clientID: UInt32
  public let sequence: UInt64
  public let request: Request
  let requestTag: [UInt8]

  public var kind: MessageKind { request.kind }
}

/// What the node does with a datagram.
public enum ReceiveDecision: Equatable {
  /// Execute it (at a safe point), then `respond`.
  case execute(AcceptedRequest)
  /// Send these bytes back and execute nothing: the cached answer to a retransmission, or an
  /// authenticated refusal (stale epoch, replayed, malformed payload).
  case send([UInt8])
  /// Send nothing.
  case drop(DropReason)
}

public enum DropReason: Equatable {
  /// Not a datagram of this protocol and version (counted as malformed).
  case malformed(WireError)
  /// The tag is wrong (counted as unauthenticated).
  case unauthenticated
  /// A retransmission of a request still being executed: its answer will come.
  case inProgress
}
