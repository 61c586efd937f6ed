/// A DHCP message (RFC 2131 §2, the BOOTP layout of RFC 951): 236 fixed bytes, the magic
/// cookie 99.130.83.99, then options (RFC 2132) as type-length-value, 0 padding, 255 ending.
public struct DHCPMessage: Equatable {
  public enum Kind: UInt8 {
    case discover = 1
    case offer = 2
    case request = 3
    case decline = 4
    case acknowledge = 5
    case negativeAcknowledge = 6
    case release = 7
  }

  public static let serverPort: UInt16 = 67
  public static let clientPort: UInt16 = 68
  static let fixedLength = 236
  static let cookie: UInt32 = 0x6382_5363

  /// Option codes (RFC 2132).
  public enum Option {
    public static let subnetMask: UInt8 = 1
    public static let router: UInt8 = 3
    public static let requestedAddress: UInt8 = 50
    public static let leaseTime: UInt8 = 51
    public static let messageType: UInt8 = 53
    public static let serverIdentifier: UInt8 = 54
    public static let parameterList: UInt8 = 55
  }

  /// 1 request (client to server), 2 reply.
  public var operation: UInt8
  public var transaction: UInt32
  /// Bit 15: the client cannot take unicast before it has an address; answer by broadcast.
  public var flags: UInt16
  public var clientAddress: IPv4Address
  public var yourAddress: IPv4Address
  public var clientMAC: MACAddress
  public var kind: Kind
  /// Other options by code (values as received), in order.
  public var options: [(code: UInt8, value: [UInt8])]

  public init(
    operation: UInt8, transaction: UInt32, flags: UInt16 = 0x8000,
    clientAddress: IPv4Address = .any, yourAddress: IPv4Address = .any, clientMAC: MACAddress,
    kind: Kind, options: [(code: UInt8, value: [UInt8])] = []
  ) {
    self.operation = operation
    self.transaction = transaction
    self.flags = flags
    self.clientAddress = clientAddress
    self.yourAddress = yourAddress
    self.clientMAC = clientMAC
    self.kind = kind
    self.options = options
  }

  public static func == (a: DHCPMessage, b: DHCPMessage) -> Bool {
    a.bytes == b.bytes
  }

  public func option(_ code: UInt8) -> [UInt8]? {
    options.first { $0.code == code }?.value
  }

  public func address(option code: UInt8) -> IPv4Address? {
    guard let value = option(code), value.count >= 4 else { return nil }
    return IPv4Address(value, at: 0)
  }

  /// Parses a UDP payload; nil for anything that is not a well-formed DHCP message for
  /// Ethernet (htype 1, hlen 6) with a message type.
  public static func parse(_ bytes: [UInt8]) -> DHCPMessage? {
    guard bytes.count >= fixedLength + 4, bytes[1] == 1, bytes[2] == 6,
      let transaction = bytes.be32(at: 4), let flags = bytes.be16(at: 10),
      let client = IPv4Address(bytes, at: 12), let yours = IPv4Address(bytes, at: 16),
      let mac = MACAddress(bytes, at: 28), bytes.be32(at: fixedLength) == cookie
    else { return nil }
    var options: [(code: UInt8, value: [UInt8])] = []
    var kind: Kind?
    var index = fixedLength + 4
    while index < bytes.count {
      let code = bytes[index]
      if code == 255 { break }
      if code == 0 {
        index += 1
        continue
      }
      guard index + 1 < bytes.count else { return nil }
      let length = Int(bytes[index + 1])
      guard let value = bytes.bytes(at: index + 2, count: length) else { return nil }
      if code == Option.messageType {
        guard length == 1, let parsed = Kind(rawValue: value[0]) else { return nil }
        kind = parsed
      } else {
        options.append((code, value))
      }
      index += 2 + length
    }
    guard let kind else { return nil }
    return DHCPMessage(
      operation: bytes[0], transaction: transaction, flags: flags, clientAddress: client,
      yourAddress: yours, clientMAC: mac, kind: kind, options: options)
  }

  public var bytes: [UInt8] {
    var out: [UInt8] = [operation, 1, 6, 0]
    out.appendBE32(transaction)
    out.appendBE16(0)  // secs
    out.appendBE16(flags)
    out.appendBE32(clientAddress.value)
    out.appendBE32(yourAddress.value)
    out.appendBE32(0)  // siaddr
    out.appendBE32(0)  // giaddr
    out += clientMAC.bytes
    out += [UInt8](repeating: 0, count: 10 + 64 + 128)  // chaddr padding, sname, file
    out.appendBE32(Self.cookie)
    out += [Option.messageType, 1, kind.rawValue]
    for option in options {
      out.append(option.code)
      out.append(UInt8(truncatingIfNeeded: option.value.count))
      out += option.value
    }
    out.append(255)
    return out
  }
}
