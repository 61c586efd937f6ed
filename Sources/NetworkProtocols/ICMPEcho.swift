/// ICMP echo (RFC 792): type 8 request, type 0 reply, code 0, checksum over the whole
/// message, identifier and sequence number, data echoed unchanged.
public struct ICMPEcho: Equatable {
  public static let headerLength = 8
  public static let echoRequest: UInt8 = 8
  public static let echoReply: UInt8 = 0

  public var type: UInt8
  public var identifier: UInt16
  public var sequence: UInt16
  public var data: [UInt8]

  public init(type: UInt8, identifier: UInt16, sequence: UInt16, data: [UInt8]) {
    self.type = type
    self.identifier = identifier
    self.sequence = sequence
    self.data = data
  }

  /// Parses an echo request or reply; other ICMP types are `.unsupportedICMP`.
  public static func parse(_ bytes: [UInt8]) -> Result<ICMPEcho, DropReason> {
    guard bytes.count >= headerLength, let identifier = bytes.be16(at: 4),
      let sequence = bytes.be16(at: 6)
    else { return .failure(.truncatedICMP) }
    guard InternetChecksum.of(bytes) == 0 else { return .failure(.badICMPChecksum) }
    guard bytes[0] == echoRequest || bytes[0] == echoReply, bytes[1] == 0 else {
      return .failure(.unsupportedICMP)
    }
    return .success(
      ICMPEcho(
        type: bytes[0], identifier: identifier, sequence: sequence,
        data: Array(bytes[headerLength...])))
  }

  /// The reply to this request: same identifier, sequence and data.
  public var reply: ICMPEcho {
    ICMPEcho(type: Self.echoReply, identifier: identifier, sequence: sequence, data: data)
  }

  public var bytes: [UInt8] {
    var out: [UInt8] = [type, 0, 0, 0]
    out.appendBE16(identifier)
    out.appendBE16(sequence)
    out += data
    out.setBE16(InternetChecksum.of(out), at: 2)
    return out
  }
}
