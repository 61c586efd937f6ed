/// Reads space-separated `key=value` words and bare flags from a command line.
public enum KernelCommandLine {
  static let space = UInt8(ascii: " ")
  static let equals = UInt8(ascii: "=")

  /// The value of the last `key=value` word, so later words override earlier ones; nil if absent.
  public static func value(of key: StaticString, in line: [UInt8]) -> [UInt8]? {
    var found: [UInt8]? = nil
    forEachWord(in: line) { word in
      let separator = word.startIndex + key.utf8CodeUnitCount
      guard word.count > key.utf8CodeUnitCount, word[separator] == equals, hasPrefix(word, key)
      else { return }
      found = Array(word[(separator + 1)...])
    }
    return found
  }

  /// Whether `flag` appears as a whole word (not merely as a `flag=value` key).
  public static func contains(flag: StaticString, in line: [UInt8]) -> Bool {
    var found = false
    forEachWord(in: line) { word in
      if word.count == flag.utf8CodeUnitCount && hasPrefix(word, flag) { found = true }
    }
    return found
  }

  static func hasPrefix(_ word: ArraySlice<UInt8>, _ prefix: StaticString) -> Bool {
    guard word.count >= prefix.utf8CodeUnitCount else { return false }
    var index = word.startIndex
    for offset in 0..<prefix.utf8CodeUnitCount {
      if word[index] != prefix.utf8Start[offset] { return false }
      index += 1
    }
    return true
  }

  static func forEachWord(in line: [UInt8], _ body: (ArraySlice<UInt8>) -> Void) {
    var start = 0
    while start < line.count {
      while start < line.count && line[start] == space { start += 1 }
      var end = start
      while end < line.count && line[end] != space { end += 1 }
      if end > start { body(line[start..<end]) }
      start = end
    }
  }
}
