/// Appends big-endian (network order) fields to a byte array. Every variable-length field
/// has a maximum, checked here as the reader checks it, so that what encodes also decodes.
public struct WireWriter {
  public private(set) var bytes: [UInt8]

  public init(capacity: Int = 0) {
    bytes = []
    bytes.reserveCapacity(capacity)
  }

  public mutating func u8(_ value: UInt8) { bytes.append(value) }

  public mutating func u16(_ value: UInt16) {
    bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    bytes.append(UInt8(truncatingIfNeeded: value))
  }

  public mutating func u32(_ value: UInt32) {
    for shift in stride(from: 24, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
    }
  }

  public mutating func u64(_ value: UInt64) {
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
  }

  public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

  /// Exactly `count` bytes, no length prefix (digests, MAC addresses).
  public mutating func fixed(_ value: [UInt8], count: Int) throws(WireError) {
    guard value.count == count else { throw .tooLarge }
    bytes.append(contentsOf: value)
  }

  /// A one-byte length, then the bytes.
  public mutating func bytes8(_ value: [UInt8], maximum: Int) throws(WireError) {
    guard value.count <= maximum, value.count <= 0xff else { throw .tooLarge }
    u8(UInt8(value.count))
    bytes.append(contentsOf: value)
  }

  /// A two-byte length, then the bytes.
  public mutating func bytes16(_ value: [UInt8], maximum: Int) throws(WireError) {
    guard value.count <= maximum, value.count <= 0xffff else { throw .tooLarge }
    u16(UInt16(value.count))
    bytes.append(contentsOf: value)
  }

  /// A one-byte element count, checked against `maximum`.
  public mutating func count8(_ count: Int, maximum: Int) throws(WireError) {
    guard count <= maximum, count <= 0xff else { throw .tooLarge }
    u8(UInt8(count))
  }
}
