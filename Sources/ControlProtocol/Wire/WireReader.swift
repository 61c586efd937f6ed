/// Reads big-endian fields from `bytes[start..<end]`, checking every length against what is
/// left and against the field's maximum before anything is allocated.
public struct WireReader {
  private let bytes: [UInt8]
  private let start: Int
  private let end: Int
  /// The next byte to read.
  public private(set) var position: Int

  public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
    self.bytes = bytes
    self.start = start
    self.end = end ?? bytes.count
    position = start
  }

  /// Offsets in errors count from `start`.
  private var offset: Int { position - start }
  public var remaining: Int { end - position }

  private mutating func need(_ count: Int) throws(WireError) {
    guard count <= remaining else { throw .truncated(at: offset) }
  }

  public mutating func u8() throws(WireError) -> UInt8 {
    try need(1)
    defer { position += 1 }
    return bytes[position]
  }

  public mutating func u16() throws(WireError) -> UInt16 {
    try need(2)
    defer { position += 2 }
    return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
  }

  public mutating func u32() throws(WireError) -> UInt32 {
    try need(4)
    var value: UInt32 = 0
    for index in 0..<4 { value = value << 8 | UInt32(bytes[position + index]) }
    position += 4
    return value
  }

  public mutating func u64() throws(WireError) -> UInt64 {
    try need(8)
    var value: UInt64 = 0
    for index in 0..<8 { value = value << 8 | UInt64(bytes[position + index]) }
    position += 8
    return value
  }

  public mutating func bool() throws(WireError) -> Bool {
    let at = offset
    switch try u8() {
    case 0: return false
    case 1: return true
    default: throw .invalidValue(at: at)
    }
  }

  /// Exactly `count` bytes.
  public mutating func fixed(count: Int) throws(WireError) -> [UInt8] {
    try need(count)
    defer { position += count }
    return Array(bytes[position..<position + count])
  }

  /// A one-byte length (at most `maximum`), then the bytes.
  public mutating func bytes8(maximum: Int) throws(WireError) -> [UInt8] {
    let at = offset
    let length = Int(try u8())
    guard length <= maximum else {
      throw .lengthOutOfRange(at: at, length: length, maximum: maximum)
    }
    return try fixed(count: length)
  }

  /// A two-byte length (at most `maximum`), then the bytes.
  public mutating func bytes16(maximum: Int) throws(WireError) -> [UInt8] {
    let at = offset
    let length = Int(try u16())
    guard length <= maximum else {
      throw .lengthOutOfRange(at: at, length: length, maximum: maximum)
    }
    return try fixed(count: length)
  }

  /// A one-byte element count (at most `maximum`), each element `elementSize` bytes at least,
  /// refused before the caller allocates when the rest of the message cannot hold them.
  public mutating func count8(maximum: Int, minimumElementSize: Int) throws(WireError) -> Int {
    let at = offset
    let count = Int(try u8())
    guard count <= maximum else {
      throw .lengthOutOfRange(at: at, length: count, maximum: maximum)
    }
    guard count * minimumElementSize <= remaining else { throw .truncated(at: offset) }
    return count
  }

  /// An enum's raw byte, or `invalidValue` at its offset.
  public mutating func enumeration<Value: RawRepresentable>(_ type: Value.Type) throws(WireError)
    -> Value
  where Value.RawValue == UInt8 {
    let at = offset
    guard let value = Value(rawValue: try u8()) else { throw .invalidValue(at: at) }
    return value
  }

  /// Refuses bytes after the message.
  public func finish() throws(WireError) {
    guard remaining == 0 else { throw .trailingBytes(at: offset) }
  }
}
