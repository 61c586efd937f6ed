/// An Ethernet II frame (IEEE 802.3 §3.2.6 with a type field): destination, source,
/// EtherType, payload. The frame check sequence is the NIC's business and absent here.
public struct EthernetFrame: Equatable {
  public static let headerLength = 14
  /// The largest payload without jumbo frames (IEEE 802.3 §3.2.7).
  public static let maximumPayload = 1500
  /// Frames shorter than 60 bytes (64 with the FCS) are padded (IEEE 802.3 §3.2.8).
  public static let minimumLength = 60

  public var destination: MACAddress
  public var source: MACAddress
  public var etherType: UInt16
  public var payload: [UInt8]

  public init(destination: MACAddress, source: MACAddress, etherType: UInt16, payload: [UInt8]) {
    self.destination = destination
    self.source = source
    self.etherType = etherType
    self.payload = payload
  }

  /// Parses a received frame. Values 1536 and up are EtherTypes; below 1501 the field is an
  /// IEEE 802.3 length (LLC frames), which the node does not speak.
  public static func parse(_ bytes: [UInt8]) -> Result<EthernetFrame, DropReason> {
    guard bytes.count >= headerLength,
      let destination = MACAddress(bytes, at: 0),
      let source = MACAddress(bytes, at: 6),
      let type = bytes.be16(at: 12)
    else { return .failure(.truncatedEthernet) }
    guard type >= 0x0600 else { return .failure(.notEthernetII) }
    return .success(
      EthernetFrame(
        destination: destination, source: source, etherType: type,
        payload: Array(bytes[headerLength...])))
  }

  /// The frame's bytes, padded with zeros to the minimum length.
  public var bytes: [UInt8] {
    var out = destination.bytes + source.bytes
    out.reserveCapacity(Swift.max(Self.headerLength + payload.count, Self.minimumLength))
    out.appendBE16(etherType)
    out += payload
    while out.count < Self.minimumLength { out.append(0) }
    return out
  }
}

/// EtherType values (IEEE Registration Authority).
public enum EtherType {
  public static let ipv4: UInt16 = 0x0800
  public static let arp: UInt16 = 0x0806
  public static let vlan: UInt16 = 0x8100
  public static let ipv6: UInt16 = 0x86DD
}
