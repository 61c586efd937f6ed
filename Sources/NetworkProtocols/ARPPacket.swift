/// An ARP packet for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800,
/// address lengths 6 and 4, operation 1 (request) or 2 (reply).
public struct ARPPacket: Equatable {
  public static let length = 28

  public enum Operation: UInt16 {
    case request = 1
    case reply = 2
  }

  public var operation: Operation
  public var senderMAC: MACAddress
  public var senderIP: IPv4Address
  public var targetMAC: MACAddress
  public var targetIP: IPv4Address

  public init(
    operation: Operation, senderMAC: MACAddress, senderIP: IPv4Address, targetMAC: MACAddress,
    targetIP: IPv4Address
  ) {
    self.operation = operation
    self.senderMAC = senderMAC
    self.senderIP = senderIP
    self.targetMAC = targetMAC
    self.targetIP = targetIP
  }

  /// Bytes past the 28 (Ethernet padding) are ignored.
  public static func parse(_ bytes: [UInt8]) -> Result<ARPPacket, DropReason> {
    guard bytes.count >= length, let hardware = bytes.be16(at: 0),
      let protocolType = bytes.be16(at: 2), let code = bytes.be16(at: 6),
      let senderMAC = MACAddress(bytes, at: 8), let senderIP = IPv4Address(bytes, at: 14),
      let targetMAC = MACAddress(bytes, at: 18), let targetIP = IPv4Address(bytes, at: 24)
    else { return .failure(.truncatedARP) }
    guard hardware == 1, protocolType == EtherType.ipv4, bytes[4] == 6, bytes[5] == 4 else {
      return .failure(.unsupportedARP)
    }
    guard let operation = Operation(rawValue: code) else { return .failure(.unsupportedARP) }
    return .success(
      ARPPacket(
        operation: operation, senderMAC: senderMAC, senderIP: senderIP, targetMAC: targetMAC,
        targetIP: targetIP))
  }

  public var bytes: [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(Self.length)
    out.appendBE16(1)
    out.appendBE16(EtherType.ipv4)
    out.append(6)
    out.append(4)
    out.appendBE16(operation.rawValue)
    out += senderMAC.bytes
    out.appendBE32(senderIP.value)
    out += targetMAC.bytes
    out.appendBE32(targetIP.value)
    return out
  }
}
