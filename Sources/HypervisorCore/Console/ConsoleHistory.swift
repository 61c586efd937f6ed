/// The most recent output of one VM's console, bounded: what `peregrine console VM` reads
/// by offset (bytes since the VM started). Older bytes are overwritten; a reader that fell
/// behind is told where the kept bytes start, so it sees the gap.
public struct ConsoleHistory {
  public let capacity: Int
  private var ring: [UInt8] = []
  /// Where the next byte goes once the ring is full.
  private var next = 0
  /// Bytes written since the VM started.
  public private(set) var written: UInt64 = 0

  public init(capacity: Int) {
    precondition(capacity > 0, "a console history keeps at least one byte")
    self.capacity = capacity
  }

  public mutating func append(_ byte: UInt8) {
    if ring.count < capacity {
      ring.append(byte)
    } else {
      ring[next] = byte
      next = (next + 1) % capacity
    }
    written &+= 1
  }

  /// The offset of the oldest byte still kept.
  public var oldestKept: UInt64 { written - UInt64(ring.count) }

  /// Up to `maximum` bytes from `offset` on, or from the oldest kept byte when `offset` is
  /// older; the offset the bytes start at comes with them. Nothing past `written`.
  public func read(from offset: UInt64, maximum: Int) -> (offset: UInt64, bytes: [UInt8]) {
    let start = max(offset, oldestKept)
    guard start < written, maximum > 0 else { return (min(start, written), []) }
    let count = Int(min(UInt64(maximum), written - start))
    // Index in the ring of the byte at `start`: the oldest kept byte sits at `next` once the
    // ring is full (at 0 before).
    let first = (next + Int(start - oldestKept)) % ring.count
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    for index in 0..<count { bytes.append(ring[(first + index) % ring.count]) }
    return (start, bytes)
  }
}
