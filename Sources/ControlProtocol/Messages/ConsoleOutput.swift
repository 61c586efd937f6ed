/// The answer to `consoleRead`: serial output of a VM.
public struct ConsoleOutput: Equatable {
  /// Where `bytes` start, in bytes since the VM started: the offset asked for, or later when
  /// the node's buffer no longer holds what was asked (the client sees the gap).
  public var offset: UInt64
  public var bytes: [UInt8]
  /// How many bytes the VM has written in all: ask again from `offset + bytes.count` while
  /// that is less.
  public var written: UInt64
  /// The VM has ended: nothing more will come after `written`.
  public var ended: Bool

  public init(offset: UInt64, bytes: [UInt8], written: UInt64, ended: Bool) {
    self.offset = offset
    self.bytes = bytes
    self.written = written
    self.ended = ended
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    writer.u64(offset)
    try writer.bytes16(bytes, maximum: ProtocolLimits.maximumConsoleBytes)
    writer.u64(written)
    writer.bool(ended)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> ConsoleOutput {
    let offset = try reader.u64()
    let bytes = try reader.bytes16(maximum: ProtocolLimits.maximumConsoleBytes)
    let written = try reader.u64()
    return ConsoleOutput(offset: offset, bytes: bytes, written: written, ended: try reader.bool())
  }
}
