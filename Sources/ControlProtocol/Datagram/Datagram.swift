/// One authenticated datagram: header, payload, HMAC-SHA-256 tag.
public struct Datagram: Equatable {
  public var header: DatagramHeader
  public var payload: [UInt8]

  public init(header: DatagramHeader, payload: [UInt8]) {
    self.header = header
    self.payload = payload
  }

  /// The bytes to send: header, payload, then the tag over both under `key`.
  public func sealed(with key: HMACSHA256) throws(WireError) -> [UInt8] {
    guard payload.count <= ProtocolLimits.maximumPayload else { throw .tooLarge }
    var writer = WireWriter(capacity: DatagramHeader.size + payload.count + HMACSHA256.tagSize)
    header.encode(into: &writer, payloadLength: payload.count)
    try writer.fixed(payload, count: payload.count)
    var bytes = writer.bytes
    bytes.append(contentsOf: key.authenticationCode(for: bytes))
    return bytes
  }

  /// Checks `bytes` in the order that spends the least on a forgery and trusts nothing
  /// unauthenticated: the size and fixed fields that locate the tag, then the tag (RFC 2104,
  /// compared in constant time), and only then the fields whose meaning depends on it.
  public static func open(_ bytes: [UInt8], with key: HMACSHA256) throws(DatagramRefusal)
    -> Datagram
  {
    let overhead = DatagramHeader.size + HMACSHA256.tagSize
    guard bytes.count >= overhead else { throw .malformed(.truncated(at: bytes.count)) }
    guard bytes.count <= ProtocolLimits.maximumDatagram else {
      throw .malformed(
        .lengthOutOfRange(at: 0, length: bytes.count, maximum: ProtocolLimits.maximumDatagram))
    }
    guard ConstantTime.equals(DatagramHeader.magic, bytes, at: 0) else {
      throw .malformed(.badMagic)
    }
    guard bytes[4] == DatagramHeader.currentVersion else {
      throw .malformed(.unsupportedVersion(bytes[4]))
    }
    let tagStart = bytes.count - HMACSHA256.tagSize
    let header: DatagramHeader
    do throws(WireError) {
      header = try readHeader(bytes, payloadLength: tagStart - DatagramHeader.size)
    } catch {
      throw .malformed(error)
    }
    guard key.isValid(bytes, from: 0, to: tagStart, tagAt: tagStart) else { throw .unauthenticated }
    // Authentic: what is left to check are fields a sender of this version sets.
    guard MessageKind(rawValue: bytes[5]) != nil else { throw .malformed(.unknownKind(bytes[5])) }
    guard bytes[6] & ~DatagramFlags.defined == 0 else { throw .malformed(.invalidValue(at: 6)) }
    guard bytes[7] == 0 else { throw .malformed(.invalidValue(at: 7)) }
    guard bytes[14] == 0 && bytes[15] == 0 else { throw .malformed(.invalidValue(at: 14)) }
    return Datagram(header: header, payload: Array(bytes[DatagramHeader.size..<tagStart]))
  }

  /// The header's fields; the kind is read leniently here (nodeInfo for an unknown byte) and
  /// checked after authentication.
  private static func readHeader(_ bytes: [UInt8], payloadLength actual: Int) throws(WireError)
    -> DatagramHeader
  {
    var reader = WireReader(bytes, from: 8, to: DatagramHeader.size)
    let clientID = try reader.u32()
    let payloadLength = Int(try reader.u16())
    _ = try reader.u16()
    let epoch = try reader.u64()
    let sequence = try reader.u64()
    guard payloadLength == actual else {
      throw .lengthMismatch(declared: payloadLength, actual: actual)
    }
    return DatagramHeader(
      kind: MessageKind(rawValue: bytes[5]) ?? .nodeInfo,
      isResponse: bytes[6] & DatagramFlags.response != 0, clientID: clientID, epoch: epoch,
      sequence: sequence)
  }
}

/// Why `Datagram.open` refused bytes.
public enum DatagramRefusal: Error, Equatable {
  /// Not a well-formed datagram of this version (before or after authentication).
  case malformed(WireError)
  /// Well-formed, but the tag is not the one the cluster key gives: a wrong key, a forgery
  /// or a corrupted datagram.
  case unauthenticated
}
