/// A UDP datagram (RFC 768): ports, length, checksum over the IPv4 pseudo-header (source,
/// destination, zero, protocol 17, UDP length) and the datagram.
public struct UDPDatagram: Equatable {
  public static let headerLength = 8

  public var sourcePort: UInt16
  public var destinationPort: UInt16
  public var payload: [UInt8]

  public init(sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8]) {
    self.sourcePort = sourcePort
    self.destinationPort = destinationPort
    self.payload = payload
  }

  /// Parses the IPv4 payload `bytes` of a packet from `source` to `destination`. A zero
  /// checksum means none was computed (RFC 768); any other must verify.
  public static func parse(
    _ bytes: [UInt8], source: IPv4Address, destination: IPv4Address
  ) -> Result<UDPDatagram, DropReason> {
    guard let sourcePort = bytes.be16(at: 0), let destinationPort = bytes.be16(at: 2),
      let length = bytes.be16(at: 4), let checksum = bytes.be16(at: 6)
    else { return .failure(.truncatedUDP) }
    guard Int(length) >= headerLength, Int(length) <= bytes.count else {
      return .failure(.malformedUDP)
    }
    if checksum != 0 {
      var sum = pseudoHeader(source: source, destination: destination, length: length)
      sum.add(bytes, from: 0, to: Int(length))
      guard sum.value == 0 else { return .failure(.badUDPChecksum) }
    }
    return .success(
      UDPDatagram(
        sourcePort: sourcePort, destinationPort: destinationPort,
        payload: Array(bytes[headerLength..<Int(length)])))
  }

  /// The datagram's bytes with its checksum, for a packet from `source` to `destination`.
  public func bytes(source: IPv4Address, destination: IPv4Address) -> [UInt8] {
    let length = UInt16(truncatingIfNeeded: Self.headerLength + payload.count)
    var out: [UInt8] = []
    out.reserveCapacity(Int(length))
    out.appendBE16(sourcePort)
    out.appendBE16(destinationPort)
    out.appendBE16(length)
    out.appendBE16(0)
    out += payload
    var sum = Self.pseudoHeader(source: source, destination: destination, length: length)
    sum.add(out)
    // A computed zero is sent as all ones: zero means "no checksum" (RFC 768).
    out.setBE16(sum.value == 0 ? 0xFFFF : sum.value, at: 6)
    return out
  }

  static func pseudoHeader(
    source: IPv4Address, destination: IPv4Address, length: UInt16
  ) -> InternetChecksum {
    var sum = InternetChecksum()
    sum.add(source.value)
    sum.add(destination.value)
    sum.add(UInt16(IPProtocol.udp))
    sum.add(length)
    return sum
  }
}
