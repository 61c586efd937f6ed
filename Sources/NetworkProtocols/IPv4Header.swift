/// An IPv4 header (RFC 791 §3.1) without options, and the packet it heads. The node
/// accepts only what it needs: version 4, a 20-byte header, no fragments, a correct header
/// checksum; everything else is dropped with its reason.
public struct IPv4Packet: Equatable {
  public static let headerLength = 20

  public var source: IPv4Address
  public var destination: IPv4Address
  public var protocolNumber: UInt8
  public var timeToLive: UInt8
  public var identification: UInt16
  public var payload: [UInt8]

  public init(
    source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8, payload: [UInt8],
    timeToLive: UInt8 = 64, identification: UInt16 = 0
  ) {
    self.source = source
    self.destination = destination
    self.protocolNumber = protocolNumber
    self.payload = payload
    self.timeToLive = timeToLive
    self.identification = identification
  }

  /// Parses a packet. Trailing bytes past the total length (Ethernet padding) are dropped.
  public static func parse(_ bytes: [UInt8]) -> Result<IPv4Packet, DropReason> {
    guard bytes.count >= headerLength, let totalLength = bytes.be16(at: 2),
      let flagsAndOffset = bytes.be16(at: 6), let identification = bytes.be16(at: 4),
      let source = IPv4Address(bytes, at: 12), let destination = IPv4Address(bytes, at: 16)
    else { return .failure(.truncatedIPv4) }
    guard bytes[0] >> 4 == 4 else { return .failure(.notIPv4) }
    let headerWords = Int(bytes[0] & 0xF)
    guard headerWords >= 5 else { return .failure(.malformedIPv4) }
    guard headerWords == 5 else { return .failure(.ipv4Options) }
    guard Int(totalLength) >= headerLength, Int(totalLength) <= bytes.count else {
      return .failure(.malformedIPv4)
    }
    // The sum over a correct header, checksum included, is all ones (RFC 1071 §1).
    guard InternetChecksum.of(bytes, from: 0, to: headerLength) == 0 else {
      return .failure(.badIPv4Checksum)
    }
    // Flags (bit 15 reserved, 14 DF, 13 MF) and fragment offset (RFC 791 §3.1).
    guard flagsAndOffset & 0x8000 == 0 else { return .failure(.malformedIPv4) }
    guard flagsAndOffset & 0x3FFF == 0 else { return .failure(.ipv4Fragment) }
    return .success(
      IPv4Packet(
        source: source, destination: destination, protocolNumber: bytes[9],
        payload: Array(bytes[headerLength..<Int(totalLength)]), timeToLive: bytes[8],
        identification: identification))
  }

  /// The packet: header with DF set (the node never sends fragments) and its checksum.
  public var bytes: [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(Self.headerLength + payload.count)
    out.append(0x45)  // version 4, IHL 5
    out.append(0)  // DSCP/ECN
    out.appendBE16(UInt16(truncatingIfNeeded: Self.headerLength + payload.count))
    out.appendBE16(identification)
    out.appendBE16(0x4000)  // DF
    out.append(timeToLive)
    out.append(protocolNumber)
    out.appendBE16(0)
    out.appendBE32(source.value)
    out.appendBE32(destination.value)
    out.setBE16(InternetChecksum.of(out), at: 10)
    out += payload
    return out
  }
}

/// IP protocol numbers (IANA).
public enum IPProtocol {
  public static let icmp: UInt8 = 1
  public static let udp: UInt8 = 17
}
