/// A dotted-quad IPv4 address.
public struct IPv4Address: Equatable, Hashable, CustomStringConvertible, Sendable {
  public var value: UInt32

  public init(_ value: UInt32) { self.value = value }

  public init?(_ text: String) {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var value: UInt32 = 0
    for part in parts {
      // No signs, no leading zeros (ambiguous: octal in some parsers), at most 255.
      guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
        part == "0" || !part.hasPrefix("0"), let octet = UInt32(part), octet <= 255
      else { return nil }
      value = value << 8 | octet
    }
    self.value = value
  }

  public var description: String {
    "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
  }
}

/// An address with its prefix length, `10.0.2.15/24`, as a NIC's or a node's `ip=` is given.
public struct IPv4Interface: Equatable, Hashable, CustomStringConvertible, Sendable {
  public var address: IPv4Address
  public var prefixLength: Int

  public init(address: IPv4Address, prefixLength: Int) {
    self.address = address
    self.prefixLength = prefixLength
  }

  public init?(_ text: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let address = IPv4Address(String(parts[0])),
      parts[1].count <= 2, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber),
      let prefix = Int(parts[1]), prefix >= 1, prefix <= 32
    else { return nil }
    self.init(address: address, prefixLength: prefix)
  }

  public var mask: UInt32 { prefixLength == 0 ? 0 : UInt32.max << (32 - UInt32(prefixLength)) }

  public func contains(_ other: IPv4Address) -> Bool {
    other.value & mask == address.value & mask
  }

  public var description: String { "\(address)/\(prefixLength)" }
}
