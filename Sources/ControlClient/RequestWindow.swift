import ControlProtocol

extension ControlClient {
  /// What an answer did to its slot in `windowed`.
  enum SlotOutcome {
    /// The slot is finished; the window takes the next one.
    case done
    /// The slot wants another request (`request(slot)` again, e.g. a read that goes on from
    /// where its answer stopped).
    case again
  }

  /// The request window every bulk transfer uses (image chunks, memory reads and writes):
  /// slots `0..<count`, at most `window` requests in flight at once, each with its own
  /// retransmission (docs/control-protocol.md, "Retransmission"). `request(slot)` is the
  /// slot's next request, sealed with a fresh sequence number whenever it is sent anew: after
  /// `.again`, `resend`, or a refused sequence number (the node executed nothing, or the
  /// request is idempotent). A failure answer is thrown as `.refused`; every other answer
  /// goes to `answered`, which throws for one it does not expect.
  func windowed(
    slots count: Int, window: Int, request: (Int) -> Request,
    answered: (Int, Response) throws(ControlClientError) -> SlotOutcome
  ) throws(ControlClientError) {
    struct InFlight {
      var slot: Int
      var outgoing: OutgoingRequest
      var machine: Retransmission
    }
    func start(_ slot: Int) throws(ControlClientError) -> InFlight {
      let outgoing: OutgoingRequest
      do throws(WireError) {
        outgoing = try session.seal(request(slot))
      } catch {
        throw .encoding(error)
      }
      var machine = Retransmission(policy: policy)
      _ = machine.start(now: Clock.milliseconds())
      try socket.send(outgoing.bytes)
      return InFlight(slot: slot, outgoing: outgoing, machine: machine)
    }
    var next = 0
    var inFlight: [InFlight] = []
    while next < count || !inFlight.isEmpty {
      while inFlight.count < max(1, window) && next < count {
        inFlight.append(try start(next))
        next += 1
      }
      // An answer, or the earliest deadline.
      let deadline = inFlight.map(\.machine.deadline).min()!
      let now = Clock.milliseconds()
      if now < deadline, let bytes = try socket.receive(timeout: deadline - now) {
        let (found, answer) = session.interpret(bytes, among: inFlight.map(\.outgoing))
        guard let found else { continue }
        switch answer {
        case .response(.failure(let failure)):
          throw .refused(failure)
        case .response(let response):
          switch try answered(inFlight[found].slot, response) {
          case .done: inFlight.remove(at: found)
          case .again: inFlight[found] = try start(inFlight[found].slot)
          }
        case .resend, .sequenceRefused:
          inFlight[found] = try start(inFlight[found].slot)
        default:
          continue
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
}
