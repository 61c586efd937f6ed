/// Standard base64 (RFC 4648 §4, with padding), for reading a trace out over a text console.
public enum Base64 {
  static let alphabet: [UInt8] = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

  /// The encoding of `bytes[start..<start + count]`, one character at a time to `emit`
  /// (no allocation: the kernel writes it straight to the console).
  public static func encode(
    _ bytes: [UInt8], from start: Int, count: Int, emit: (UInt8) -> Void
  ) {
    var index = start
    let end = start + count
    while index < end {
      let left = end - index
      let b0 = UInt32(bytes[index])
      let b1 = left > 1 ? UInt32(bytes[index + 1]) : 0
      let b2 = left > 2 ? UInt32(bytes[index + 2]) : 0
      let group = b0 << 16 | b1 << 8 | b2
      emit(alphabet[Int(group >> 18 & 63)])
      emit(alphabet[Int(group >> 12 & 63)])
      emit(left > 1 ? alphabet[Int(group >> 6 & 63)] : UInt8(ascii: "="))
      emit(left > 2 ? alphabet[Int(group & 63)] : UInt8(ascii: "="))
      index += 3
    }
  }
}
