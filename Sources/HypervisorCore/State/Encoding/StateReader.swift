/// Reads little-endian fields of a state record, checking every length against what is
/// left before anything is read or allocated: malformed input is a StateDecodingError,
/// never a trap.
public struct StateReader {
  private let bytes: [UInt8]
  private let end: Int
  /// The next byte to read, from the start of `bytes`.
  public private(set) var position: Int

  public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
    self.bytes = bytes
    self.end = min(end ?? bytes.count, bytes.count)
    position = min(max(start, 0), self.end)
  }

  public var remaining: Int { end - position }

  private func need(_ count: Int) throws(StateDecodingError) {
    guard count <= remaining else { throw .truncated(at: position, needed: count) }
  }

  public mutating func u8() throws(StateDecodingError) -> UInt8 {
    try need(1)
    defer { position += 1 }
    return bytes[position]
  }

  public mutating func u16() throws(StateDecodingError) -> UInt16 {
    try need(2)
    defer { position += 2 }
    return UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
  }

  public mutating func u32() throws(StateDecodingError) -> UInt32 {
    try need(4)
    var value: UInt32 = 0
    for index in 0..<4 { value |= UInt32(bytes[position + index]) << UInt32(index * 8) }
    position += 4
    return value
  }

  public mutating func u64() throws(StateDecodingError) -> UInt64 {
    try need(8)
    var value: UInt64 = 0
    for index in 0..<8 { value |= UInt64(bytes[position + index]) << UInt64(index * 8) }
    position += 8
    return value
  }

  /// 0 or 1; anything else is `invalidValue`.
  public mutating func bool() throws(StateDecodingError) -> Bool {
    let at = position
    switch try u8() {
    case 0: return false
    case 1: return true
    default: throw .invalidValue(at: at)
    }
  }

  /// Exactly `count` bytes.
  public mutating func raw(count: Int) throws(StateDecodingError) -> [UInt8] {
    try need(count)
    defer { position += count }
    return Array(bytes[position..<position + count])
  }

  /// A reader of the next `count` bytes only; this one moves past them.
  public mutating func payload(count: Int) throws(StateDecodingError) -> StateReader {
    try need(count)
    defer { position += count }
    return StateReader(bytes, from: position, to: position + count)
  }

  /// A two-byte element count, at most `maximum`, refused before the caller allocates when
  /// the bytes left cannot hold that many elements of `elementSize` bytes.
  public mutating func count16(maximum: Int, elementSize: Int) throws(StateDecodingError) -> Int {
    let at = position
    let count = Int(try u16())
    guard count <= maximum else {
      throw .countOutOfRange(at: at, count: count, maximum: maximum)
    }
    guard count * elementSize <= remaining else {
      throw .truncated(at: position, needed: count * elementSize)
    }
    return count
  }

  /// Fails with `invalidValue` at the field just read when `valid` is false.
  public func check(_ valid: Bool, fieldSize: Int) throws(StateDecodingError) {
    guard valid else { throw .invalidValue(at: position - fieldSize) }
  }
}
