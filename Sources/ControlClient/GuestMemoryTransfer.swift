import ControlProtocol

/// A VM's guest memory as read from its node: its chunks that are not all zeros.
public struct MemoryReadBack: Equatable {
  public var size: UInt64
  public var chunks: [MemoryChunk]
  /// `memoryRead` requests it took (one per chunk of data, plus one per 8 MiB of zeros).
  public var requests: Int
}

public struct MemoryChunk: Equatable {
  public var offset: UInt64
  public var bytes: [UInt8]
  public init(offset: UInt64, bytes: [UInt8]) {
    self.offset = offset
    self.bytes = bytes
  }
}

extension ControlClient {
  /// Reads VM `name`'s memory (paused, or with its dirty log on) as `readDisk` reads a disk
  /// (the node skips chunks of zeros and says where it stopped), but `window` stretches of
  /// 256 KiB at once, one request in flight for each, each with its own retransmission: a
  /// round trip per chunk of data would otherwise be paid one after another. Stretches are
  /// small so that the window stays full to the end (with 8 MiB stretches the last few,
  /// full of data, were read one request at a time: 5 minutes for 72 MiB).
  ///
  /// `received` sees each chunk of data as its answer arrives (in no particular order), so a
  /// caller can pass it on while the rest is read (live migration's round 0 writes to the
  /// target meanwhile, docs/migration.md).
  public func readMemory(
    of name: [UInt8], window: Int = 16, progress: (UInt64, UInt64) -> Void = { _, _ in },
    received: (MemoryChunk) -> Void = { _ in }
  ) throws(ControlClientError) -> MemoryReadBack {
    let stretch = UInt64(256 << 10)
    func request(at offset: UInt64) -> Request {
      .memoryRead(
        name: name, offset: offset, maximumLength: UInt16(ProtocolLimits.maximumMemoryBytes))
    }
    // The first answer says the size.
    guard case .memoryData(let first) = try perform(request(at: 0)) else {
      throw .refused(ControlFailure(.internalError, text: "unexpected answer to a memory read"))
    }
    let size = first.size
    guard first.offset <= min(size, stretch), first.offset + UInt64(first.bytes.count) <= size
    else {
      throw .refused(
        ControlFailure(.malformed, text: "the node's memory answer does not follow the request"))
    }
    var chunks: [MemoryChunk] = []
    var requests = 1
    struct Cursor {
      var offset: UInt64
      var end: UInt64
      var outgoing: OutgoingRequest
      var machine: Retransmission
    }
    func accept(_ data: DiskData, into cursor: inout Cursor) throws(ControlClientError) -> Bool {
      guard data.size == size, data.offset >= cursor.offset,
        data.offset + UInt64(data.bytes.count) <= size,
        !(data.bytes.isEmpty && data.offset == cursor.offset && cursor.offset < size)
      else {
        throw .refused(
          ControlFailure(.malformed, text: "the node's memory answer does not follow the request"))
      }
      // Data past this stretch is the next stretch's to read.
      if data.offset >= cursor.end { return true }
      if !data.bytes.isEmpty {
        let chunk = MemoryChunk(offset: data.offset, bytes: data.bytes)
        chunks.append(chunk)
        received(chunk)
      }
      cursor.offset = data.offset + UInt64(data.bytes.count)
      return cursor.offset >= cursor.end
    }
    func start(_ offset: UInt64, end: UInt64) throws(ControlClientError) -> Cursor {
      let outgoing: OutgoingRequest
      do throws(WireError) {
        outgoing = try session.seal(request(at: offset))
      } catch {
        throw .encoding(error)
      }
      var machine = Retransmission(policy: policy)
      _ = machine.start(now: Clock.milliseconds())
      try socket.send(outgoing.bytes)
      requests += 1
      return Cursor(offset: offset, end: end, outgoing: outgoing, machine: machine)
    }
    // The first stretch goes on from where the first answer left it.
    var inFlight: [Cursor] = []
    var finished: UInt64 = 0
    var nextStretch = min(size, stretch)
    if !first.bytes.isEmpty {
      let chunk = MemoryChunk(offset: first.offset, bytes: first.bytes)
      chunks.append(chunk)
      received(chunk)
    }
    let resume = first.offset + UInt64(first.bytes.count)
    if resume < nextStretch {
      inFlight.append(try start(resume, end: nextStretch))
    } else {
      finished = nextStretch
    }
    while nextStretch < size || !inFlight.isEmpty {
      while inFlight.count < max(1, window) && nextStretch < size {
        let end = min(size, nextStretch + stretch)
        inFlight.append(try start(nextStretch, end: end))
        nextStretch = end
      }
      let deadline = inFlight.map(\.machine.deadline).min()!
      let now = Clock.milliseconds()
      if now < deadline, let bytes = try socket.receive(timeout: deadline - now) {
        let (found, answer) = session.interpret(bytes, among: inFlight.map(\.outgoing))
        guard let found else { continue }
        switch answer {
        case .response(.memoryData(let data)):
          if try accept(data, into: &inFlight[found]) {
            finished += stretch
            inFlight.remove(at: found)
          } else {
            inFlight[found] = try start(inFlight[found].offset, end: inFlight[found].end)
          }
          progress(min(size, finished), size)
        case .response(.failure(let failure)):
          throw .refused(failure)
        case .resend, .sequenceRefused:
          inFlight[found] = try start(inFlight[found].offset, end: inFlight[found].end)
        default:
          throw .refused(
            ControlFailure(.internalError, text: "unexpected answer to a memory read"))
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
    chunks.sort { $0.offset < $1.offset }
    return MemoryReadBack(size: size, chunks: chunks, requests: requests)
  }

  /// Writes `chunks` (each at most `maximumMemoryBytes`) into incoming VM `name`'s memory,
  /// `window` requests in flight at once, each with its own retransmission, as transfers
  /// send their chunks. A write the node executed twice writes the same bytes.
  public func writeMemory(
    of name: [UInt8], chunks: [MemoryChunk], window: Int = 16,
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws(ControlClientError) {
    try pipeline(
      chunks.map { .memoryWrite(MemoryWrite(name: name, offset: $0.offset, bytes: $0.bytes)) },
      window: window, progress: progress)
  }

  /// Sends `requests`, `window` at a time, each expecting `done`; throws the first refusal.
  func pipeline(
    _ requests: [Request], window: Int, progress: (Int, Int) -> Void
  ) throws(ControlClientError) {
    struct InFlight {
      var index: Int
      var outgoing: OutgoingRequest
      var machine: Retransmission
    }
    func start(_ index: Int) throws(ControlClientError) -> InFlight {
      let outgoing: OutgoingRequest
      do throws(WireError) {
        outgoing = try session.seal(requests[index])
      } catch {
        throw .encoding(error)
      }
      var machine = Retransmission(policy: policy)
      _ = machine.start(now: Clock.milliseconds())
      try socket.send(outgoing.bytes)
      return InFlight(index: index, outgoing: outgoing, machine: machine)
    }
    var next = 0
    var done = 0
    var inFlight: [InFlight] = []
    while next < requests.count || !inFlight.isEmpty {
      while inFlight.count < max(1, window) && next < requests.count {
        inFlight.append(try start(next))
        next += 1
      }
      let deadline = inFlight.map(\.machine.deadline).min()!
      let now = Clock.milliseconds()
      if now < deadline, let bytes = try socket.receive(timeout: deadline - now) {
        let (found, answer) = session.interpret(bytes, among: inFlight.map(\.outgoing))
        guard let found else { continue }
        switch answer {
        case .response(.done):
          inFlight.remove(at: found)
          done += 1
          progress(done, requests.count)
        case .response(.failure(let failure)):
          throw .refused(failure)
        case .resend, .sequenceRefused:
          inFlight[found] = try start(inFlight[found].index)
        default:
          throw .refused(
            ControlFailure(.internalError, text: "unexpected answer to a pipelined request"))
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
  }
}
