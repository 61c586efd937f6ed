/// An IPv4 address (RFC 791), the 32 bits in network order as one integer.
public struct IPv4Address: Equatable, Hashable, Sendable {
  public let value: UInt32

  public init(_ value: UInt32) { self.value = value }

  public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
    value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
  }

  public static let any = IPv4Address(0)
  public static let broadcast = IPv4Address(0xFFFF_FFFF)

  /// Dotted decimal "A.B.C.D": four decimal numbers 0-255 of one to three digits. Anything
  /// else is nil.
  public init?(dotted text: ArraySlice<UInt8>) {
    var parts: [UInt32] = []
    var current: UInt32 = 0
    var digits = 0
    for byte in text {
      if byte == UInt8(ascii: ".") {
        guard digits > 0, parts.count < 3 else { return nil }
        parts.append(current)
        current = 0
        digits = 0
      } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
        digits += 1
        guard digits <= 3 else { return nil }
        current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
        guard current <= 255 else { return nil }
      } else {
        return nil
      }
    }
    guard digits > 0, parts.count == 3 else { return nil }
    value = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | current
  }

  public init?(_ data: [UInt8], at offset: Int) {
    guard let raw = data.be32(at: offset) else { return nil }
    value = raw
  }

  public var isBroadcast: Bool { value == 0xFFFF_FFFF }
  /// 224.0.0.0/4 (RFC 5771).
  public var isMulticast: Bool { value >> 28 == 0xE }

  /// The netmask of a /`prefix` network (0...32).
  public static func mask(prefix: Int) -> UInt32 {
    prefix <= 0 ? 0 : (prefix >= 32 ? 0xFFFF_FFFF : ~(UInt32(0xFFFF_FFFF) >> UInt32(prefix)))
  }

  public var octets: [UInt8] {
    [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> UInt32($0)) }
  }
}
