/// Why bytes are not a valid datagram or message, with the offset (from the start of the
/// datagram's payload, or of the datagram for header errors) where decoding stopped.
public enum WireError: Error, Equatable {
  /// Fewer bytes than the field at `offset` needs.
  case truncated(at: Int)
  /// A length field at `offset` says `length`, over the `maximum` for that field.
  case lengthOutOfRange(at: Int, length: Int, maximum: Int)
  /// A field at `offset` holds a value the protocol does not define (an enum case, a
  /// boolean other than 0 or 1, a reserved field that is not zero).
  case invalidValue(at: Int)
  /// Bytes left over after the message ended at `offset`.
  case trailingBytes(at: Int)
  /// The datagram does not start with the protocol's magic number.
  case badMagic
  /// The datagram is of a protocol version this code does not speak.
  case unsupportedVersion(UInt8)
  /// The message kind byte names no message.
  case unknownKind(UInt8)
  /// The header's payload length disagrees with the datagram's size.
  case lengthMismatch(declared: Int, actual: Int)
  /// A message to encode breaks one of the protocol's limits (`ProtocolLimits`).
  case tooLarge

  public var message: StaticString {
    switch self {
    case .truncated: return "the datagram ends inside a field"
    case .lengthOutOfRange: return "a length is over the protocol's limit"
    case .invalidValue: return "a field holds a value the protocol does not define"
    case .trailingBytes: return "bytes follow the end of the message"
    case .badMagic: return "not a Peregrine control datagram (bad magic)"
    case .unsupportedVersion: return "a protocol version this side does not speak"
    case .unknownKind: return "an unknown message kind"
    case .lengthMismatch: return "the payload length disagrees with the datagram's size"
    case .tooLarge: return "the message is over the protocol's limits"
    }
  }
}
