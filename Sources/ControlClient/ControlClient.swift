import ControlProtocol

/// Sends requests to one node over UDP and returns its answers: `ClientSession` seals and
/// checks them, `Retransmission` decides when to send again and when to give up.
public final class ControlClient {
  public let host: String
  public let port: UInt16
  public let policy: RetransmissionPolicy
  var session: ClientSession
  let socket: UDPSocket
  /// Chunks the last `transfer` sent and left out.
  public internal(set) var lastTransferCounts = TransferCounts()

  /// `clientID`: nil picks one at random (each run of the CLI is a client of its own).
  public init(
    host: String, port: UInt16, key: [UInt8], clientID: UInt32? = nil,
    policy: RetransmissionPolicy = RetransmissionPolicy()
  ) throws(ControlClientError) {
    self.host = host
    self.port = port
    self.policy = policy
    socket = try UDPSocket(connectingTo: host, port: port)
    session = ClientSession(
      key: key, clientID: clientID ?? UInt32.random(in: 1...UInt32.max),
      firstSequence: Clock.microsecondsSince1970())
  }

  /// The node's answer to `request` (a `.failure` response is an answer too: the caller
  /// says what it means). Throws when the node does not answer or the exchange fails.
  /// `patience` replaces the client's policy for a request the node takes long over.
  public func send(_ request: Request, patience: RetransmissionPolicy? = nil)
    throws(ControlClientError) -> Response
  {
    // A stale epoch or a refused sequence number on the first send: nothing was executed,
    // so the request is sealed again with what the node said (at most twice).
    for _ in 0..<3 {
      let outgoing: OutgoingRequest
      do throws(WireError) {
        outgoing = try session.seal(request)
      } catch {
        throw .encoding(error)
      }
      var machine = Retransmission(policy: patience ?? policy)
      var action = machine.start(now: Clock.milliseconds())
      exchange: while true {
        switch action {
        case .giveUp(let noAnswer):
          throw .noAnswer(noAnswer, host: host, port: port)
        case .send(let deadline):
          try socket.send(outgoing.bytes)
          action = .wait(deadline: deadline)
        case .wait(let deadline):
          let now = Clock.milliseconds()
          guard now < deadline, let bytes = try socket.receive(timeout: deadline - now) else {
            action = machine.timeout(now: Clock.milliseconds())
            continue
          }
          switch session.interpret(bytes, for: outgoing) {
          case .response(let response):
            machine.answered()
            return response
          case .resend:
            break exchange
          case .sequenceRefused(let failure):
            guard machine.attempts == 1 else { throw .answerLost(failure) }
            break exchange
          case .unrelated, .ignored:
            continue
          }
        }
      }
    }
    throw .resynchronizationFailed
  }

  /// `send`, with a failure response thrown as `.refused`.
  public func perform(_ request: Request, patience: RetransmissionPolicy? = nil)
    throws(ControlClientError) -> Response
  {
    let response = try send(request, patience: patience)
    if case .failure(let failure) = response { throw .refused(failure) }
    return response
  }

  /// `perform` for a request the node answers a slice at a time (`transfer end`, `disk
  /// digest`: the node hashes at most a bounded share of the image per request so that its
  /// control loop never stalls): while it answers `busy` "still hashing", ask again, at
  /// most `maximumRounds` times.
  public func performHashing(_ request: Request, maximumRounds: Int) throws(ControlClientError)
    -> Response
  {
    var rounds = 0
    while true {
      do throws(ControlClientError) {
        return try perform(request)
      } catch {
        guard case .refused(let failure) = error, failure.code == .busy,
          failure.detail.starts(with: ControlClient.stillHashing), rounds < maximumRounds
        else { throw error }
        rounds += 1
      }
    }
  }

  /// How the node's `busy` answer to a request still hashing begins.
  public static let stillHashing = Array("still hashing".utf8)
}
