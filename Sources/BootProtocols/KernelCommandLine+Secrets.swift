extension KernelCommandLine {
  /// The line with the value of every `key=value` word replaced by `<redacted>`, for logs:
  /// `cluster_key=` authenticates control requests and must never reach the console.
  public static func redacting(_ key: StaticString, in line: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    result.reserveCapacity(line.count)
    var index = 0
    while index < line.count {
      if line[index] == space {
        result.append(space)
        index += 1
        continue
      }
      var end = index
      while end < line.count && line[end] != space { end += 1 }
      let word = line[index..<end]
      let separator = index + key.utf8CodeUnitCount
      if word.count > key.utf8CodeUnitCount, line[separator] == equals, hasPrefix(word, key) {
        result += line[index...separator]
        result += Array("<redacted>".utf8)
      } else {
        result += word
      }
      index = end
    }
    return result
  }

  /// Why a `cluster_key=` value is refused.
  public enum KeyProblem: Error, Equatable {
    case wrongLength(Int)
    case notHex
  }

  /// The bytes of a key given as exactly `byteCount * 2` hex digits (either case).
  public static func hexKey(_ text: [UInt8], byteCount: Int = 32) -> Result<[UInt8], KeyProblem> {
    guard text.count == byteCount * 2 else { return .failure(.wrongLength(text.count)) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(byteCount)
    var index = 0
    while index < text.count {
      guard let high = hexDigit(text[index]), let low = hexDigit(text[index + 1]) else {
        return .failure(.notHex)
      }
      bytes.append(high << 4 | low)
      index += 2
    }
    return .success(bytes)
  }

  static func hexDigit(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
    default: return nil
    }
  }
}
