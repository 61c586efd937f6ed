extension StaticString {
  /// The string's UTF-8 bytes, for error details sent on the wire.
  public var bytes: [UInt8] { withUTF8Buffer { Array($0) } }
}
