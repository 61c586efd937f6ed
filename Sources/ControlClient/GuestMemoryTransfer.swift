import ControlProtocol

/// A VM's guest memory as read from its node: its chunks that are not all zeros.
public struct MemoryReadBack: Equatable {
  public var size: UInt64
  public var chunks: [MemoryChunk]
  /// `memoryRead` requests it took (one per chunk of data, plus one per 256 KiB block of zeros).
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
    func keep(_ data: DiskData) {
      guard !data.bytes.isEmpty else { return }
      let chunk = MemoryChunk(offset: data.offset, bytes: data.bytes)
      chunks.append(chunk)
      received(chunk)
    }
    // Stretches of `stretch` bytes, each read from `offset` on until it reaches `end`; the
    // first goes on from where the first answer left it.
    var stretches: [(offset: UInt64, end: UInt64)] = []
    keep(first)
    let firstEnd = min(size, stretch)
    let resume = first.offset + UInt64(first.bytes.count)
    if resume < firstEnd { stretches.append((resume, firstEnd)) }
    var finished: UInt64 = resume < firstEnd ? 0 : firstEnd
    var start = firstEnd
    while start < size {
      stretches.append((start, min(size, start + stretch)))
      start += stretch
    }
    try windowed(
      slots: stretches.count, window: window,
      request: { index in
        requests += 1
        return request(at: stretches[index].offset)
      }
    ) { (index, response) throws(ControlClientError) in
      guard case .memoryData(let data) = response else {
        throw .refused(ControlFailure(.internalError, text: "unexpected answer to a memory read"))
      }
      let stretchAsked = stretches[index]
      guard data.size == size, data.offset >= stretchAsked.offset,
        data.offset + UInt64(data.bytes.count) <= size,
        !(data.bytes.isEmpty && data.offset == stretchAsked.offset && stretchAsked.offset < size)
      else {
        throw .refused(
          ControlFailure(.malformed, text: "the node's memory answer does not follow the request"))
      }
      // Data past this stretch is the next stretch's to read.
      if data.offset < stretchAsked.end {
        keep(data)
        stretches[index].offset = data.offset + UInt64(data.bytes.count)
        if stretches[index].offset < stretchAsked.end { return .again }
      }
      finished += stretch
      progress(min(size, finished), size)
      return .done
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
    var done = 0
    try windowed(slots: requests.count, window: window, request: { requests[$0] }) {
      (_, response) throws(ControlClientError) in
      guard case .done = response else {
        throw .refused(
          ControlFailure(.internalError, text: "unexpected answer to a pipelined request"))
      }
      done += 1
      progress(done, requests.count)
      return .done
    }
  }
}
