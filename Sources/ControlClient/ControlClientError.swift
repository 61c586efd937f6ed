import ControlProtocol

/// Why a request to a node did not get its answer.
public enum ControlClientError: Error, Equatable, CustomStringConvertible {
  /// The host name did not resolve.
  case unresolvedHost(String)
  /// A socket call failed (the call, errno).
  case socket(String, Int32)
  /// No answer after every retransmission.
  case noAnswer(NoAnswer, host: String, port: UInt16)
  /// The request was sent more than once and the node no longer knows its answer: it may
  /// have been executed.
  case answerLost(ControlFailure)
  /// The node kept refusing the epoch or sequence number (another client with this id?).
  case resynchronizationFailed
  /// The request breaks the protocol's limits (a name too long...).
  case encoding(WireError)
  /// The node answered with an error (a transfer helper's step failed).
  case refused(ControlFailure)
  /// A transfer's file could not be read.
  case unreadableFile(String)

  public var description: String {
    switch self {
    case .unresolvedHost(let host): return "cannot resolve host \(host)"
    case .socket(let call, let error): return "\(call) failed (errno \(error))"
    case .noAnswer(let noAnswer, let host, let port):
      return
        "node \(host):\(port) did not answer (\(noAnswer.attempts) attempts over \(noAnswer.waitedMilliseconds) ms): is it up, is the address and port right, and is the cluster key the node's?"
    case .answerLost(let failure):
      return
        "the node may have executed the request but lost its answer (\(failure.code.message)); check its state"
    case .resynchronizationFailed:
      return
        "the node kept refusing this client's sequence numbers; is another client using the same client id?"
    case .encoding(let error): return "the request breaks the protocol's limits: \(error.message)"
    case .refused(let failure):
      let detail = String(decoding: failure.detail, as: UTF8.self)
      return detail.isEmpty ? "\(failure.code.message)" : "\(failure.code.message): \(detail)"
    case .unreadableFile(let path): return "cannot read \(path)"
    }
  }
}
