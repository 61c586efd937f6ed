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
    var results = [MemoryChunk?](repeating: nil, count: offsets.count)
    try windowed(
      slots: offsets.count, window: window,
      request: {
        .memoryRead(name: name, offset: offsets[$0], maximumLength: UInt16(chunkSize))
      }
    ) { (index, response) throws(ControlClientError) in
      guard case .memoryData(let data) = response else {
        throw .refused(ControlFailure(.internalError, text: "unexpected answer to a memory read"))
      }
      let offset = offsets[index]
      let length = Int(min(chunkSize, memorySize - min(offset, memorySize)))
      var bytes: [UInt8]
      if data.offset == offset && !data.bytes.isEmpty {
        bytes = Array(data.bytes.prefix(length))
      } else if data.offset > offset || data.bytes.isEmpty {
        bytes = []  // the node skipped it: zeros
      } else {
        throw .refused(
          ControlFailure(.malformed, text: "the node's memory answer does not follow the request"))
      }
      if bytes.count < length { bytes += [UInt8](repeating: 0, count: length - bytes.count) }
      let chunk = MemoryChunk(offset: offset, bytes: bytes)
      results[index] = chunk
      received(chunk)
      return .done
    }
    return results.map { $0! }
  }
}
