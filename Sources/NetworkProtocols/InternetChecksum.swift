/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
/// the data as 16-bit big-endian words, an odd last byte padded with zero. IPv4 headers,
/// ICMP and UDP (over a pseudo-header, RFC 768) use it.
public struct InternetChecksum {
  private var sum: UInt32 = 0

  public init() {}

  /// Adds `bytes[range]` as 16-bit words. Ranges after the first must start on an even
  /// offset of the whole checksummed data (every caller here adds even-length parts first).
  public mutating func add(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
    let stop = Swift.min(end ?? bytes.count, bytes.count)
    var index = Swift.max(start, 0)
    while index + 1 < stop {
      sum &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
      index += 2
    }
    if index < stop { sum &+= UInt32(bytes[index]) << 8 }
    fold()
  }

  public mutating func add(_ word: UInt16) {
    sum &+= UInt32(word)
    fold()
  }

  public mutating func add(_ value: UInt32) {
    add(UInt16(truncatingIfNeeded: value >> 16))
    add(UInt16(truncatingIfNeeded: value))
  }

  /// End-around carry (RFC 1071 §2(B)): kept below 2^17 after every addition.
  private mutating func fold() {
    while sum > 0xFFFF { sum = (sum & 0xFFFF) &+ (sum >> 16) }
  }

  /// The value to store in the checksum field.
  public var value: UInt16 { ~UInt16(truncatingIfNeeded: sum) }

  /// The checksum of `bytes` in one step.
  public static func of(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) -> UInt16 {
    var checksum = InternetChecksum()
    checksum.add(bytes, from: start, to: end)
    return checksum.value
  }
}
