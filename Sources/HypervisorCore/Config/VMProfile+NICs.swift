extension VMProfile {
  /// The most guest NICs one VM has (as many as a profile's `<nic1>` ... `<nic8>`).
  public static let maximumNICs = 8

  /// `nic=52:54:00:12:34:56[,52:54:00:12:34:57...]`: one MAC per guest NIC, six two-digit
  /// hexadecimal bytes separated by colons, each a unicast address (IEEE 802 §8.2: the
  /// first byte's I/G bit clear), none twice, at most `maximumNICs`.
  static func parseMACList(_ text: [UInt8]) -> [[UInt8]]? {
    var macs: [[UInt8]] = []
    var start = 0
    while start <= text.count {
      var end = start
      while end < text.count && text[end] != UInt8(ascii: ",") { end += 1 }
      guard macs.count < maximumNICs, let mac = parseMAC(text[start..<end]),
        mac[0] & 1 == 0, mac != [0, 0, 0, 0, 0, 0], !macs.contains(mac)
      else { return nil }
      macs.append(mac)
      start = end + 1
    }
    return macs
  }

  static func parseMAC(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    guard text.count == 17 else { return nil }
    var bytes: [UInt8] = []
    var index = text.startIndex
    for position in 0..<6 {
      if position > 0 {
        guard text[index] == UInt8(ascii: ":") else { return nil }
        index += 1
      }
      guard let high = hexDigit(text[index]), let low = hexDigit(text[index + 1]) else {
        return nil
      }
      bytes.append(high << 4 | low)
      index += 2
    }
    return bytes
  }

  private static func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
