import ControlProtocol

/// The client's side of live migration's memory rounds (docs/migration.md): the dirty log
/// read whole, and chosen chunks of a running VM's memory read back exactly.
extension ControlClient {
  /// `dirtyLog` once; the answer's window.
  public func dirtyLog(
    of name: [UInt8], _ operation: DirtyLogOperation, startPage: UInt64 = 0
  ) throws(ControlClientError) -> DirtyLogWindow {
    guard
      case .dirtyLog(let window) = try perform(
        .dirtyLog(name: name, operation: operation, startPage: startPage))
    else {
      throw .refused(
        ControlFailure(.internalError, text: "unexpected answer to a dirty log request"))
    }
    return window
  }

  /// A snapshot, then every window of it: the pages written since the last snapshot (or
  /// since the start), in increasing order.
  public func dirtyPageSnapshot(of name: [UInt8]) throws(ControlClientError) -> (
    pageCount: UInt64, pages: [UInt64]
  ) {
    var window = try dirtyLog(of: name, .snapshot)
    let pageCount = window.pageCount
    var pages: [UInt64] = []
    while true {
      for (index, byte) in window.bitmap.enumerated() where byte != 0 {
        for bit in 0..<8 where byte & (1 << bit) != 0 {
          pages.append(window.startPage + UInt64(index * 8 + bit))
        }
      }
      let next = window.startPage + UInt64(window.bitmap.count) * 8
      guard !window.bitmap.isEmpty, next < pageCount, UInt64(pages.count) < window.dirtyCount
      else { break }
      window = try dirtyLog(of: name, .read, startPage: next)
    }
    return (pageCount, pages)
  }

  /// The bytes of each chunk at `offsets` (each a multiple of `maximumMemoryBytes`), zeros
  /// included: the node skips chunks of zeros, so an answer that starts past the chunk
  /// asked for says that chunk is zero, and it is returned as zeros (a page the guest
  /// cleared must be cleared on the target too). `window` requests in flight at once.
  /// `received` sees each chunk as its answer arrives (migration writes it meanwhile).
  public func readMemoryChunks(
    of name: [UInt8], at offsets: [UInt64], memorySize: UInt64, window: Int = 16,
    received: (MemoryChunk) -> Void = { _ in }
  ) throws(ControlClientError) -> [MemoryChunk] {
    let chunkSize = UInt64(ProtocolLimits.maximumMemoryBytes)
    struct InFlight {
      var index: Int
      var outgoing: OutgoingRequest
      var machine: Retransmission
    }
    func start(_ index: Int) throws(ControlClientError) -> InFlight {
      let outgoing: OutgoingRequest
      do throws(WireError) {
        outgoing = try session.seal(
          .memoryRead(name: name, offset: offsets[index], maximumLength: UInt16(chunkSize)))
      } catch {
        throw .encoding(error)
      }
      var machine = Retransmission(policy: policy)
      _ = machine.start(now: Clock.milliseconds())
      try socket.send(outgoing.bytes)
      return InFlight(index: index, outgoing: outgoing, machine: machine)
    }
    var results = [MemoryChunk?](repeating: nil, count: offsets.count)
    var next = 0
    var inFlight: [InFlight] = []
    while next < offsets.count || !inFlight.isEmpty {
      while inFlight.count < max(1, window) && next < offsets.count {
        inFlight.append(try start(next))
        next += 1
      }
      let deadline = inFlight.map(\.machine.deadline).min()!
      let now = Clock.milliseconds()
      if now < deadline, let bytes = try socket.receive(timeout: deadline - now) {
        let (found, answer) = session.interpret(bytes, among: inFlight.map(\.outgoing))
        guard let found else { continue }
        let index = inFlight[found].index
        let offset = offsets[index]
        switch answer {
        case .response(.memoryData(let data)):
          let length = Int(min(chunkSize, memorySize - min(offset, memorySize)))
          if data.offset == offset && !data.bytes.isEmpty {
            var bytes = Array(data.bytes.prefix(length))
            if bytes.count < length { bytes += [UInt8](repeating: 0, count: length - bytes.count) }
            results[index] = MemoryChunk(offset: offset, bytes: bytes)
            received(results[index]!)
          } else if data.offset > offset || data.bytes.isEmpty {
            results[index] = MemoryChunk(
              offset: offset, bytes: [UInt8](repeating: 0, count: length))
            received(results[index]!)
          } else {
            throw .refused(
              ControlFailure(
                .malformed, text: "the node's memory answer does not follow the request"))
          }
          inFlight.remove(at: found)
        case .response(.failure(let failure)):
          throw .refused(failure)
        case .resend, .sequenceRefused:
          inFlight[found] = try start(index)
        default:
          throw .refused(ControlFailure(.internalError, text: "unexpected answer to a memory read"))
        }
        continue
      }
      let later = Clock.milliseconds()
      for index in inFlight.indices where inFlight[index].machine.deadline <= later {
        switch inFlight[index].machine.timeout(now: later) {
        case .send: try socket.send(inFlight[index].outgoing.bytes)
        case .wait: break
        case .giveUp(let noAnswer): throw .noAnswer(noAnswer, host: host, port: port)
        }
      }
    }
    return results.map { $0! }
  }
}
