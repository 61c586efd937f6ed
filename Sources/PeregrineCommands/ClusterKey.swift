import Foundation

/// The per-cluster key every control request is authenticated with (HMAC-SHA-256): 32
/// random bytes, kept by the user in `STATE/cluster.key` (mode 0600) as 64 hex digits, and
/// given to each node at boot as `cluster_key=<64 hex digits>` on its command line.
public struct ClusterKey: Equatable {
  public static let byteCount = 32
  public var bytes: [UInt8]

  public init?(bytes: [UInt8]) {
    guard bytes.count == Self.byteCount else { return nil }
    self.bytes = bytes
  }

  /// 32 bytes from the system's CSPRNG (getrandom(2) on Linux, via SystemRandomNumberGenerator).
  public static func generate() -> ClusterKey {
    var generator = SystemRandomNumberGenerator()
    return ClusterKey(
      bytes: (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) })!
  }

  public init?(hex: String) {
    let text = hex.trimmingCharacters(in: .whitespacesAndNewlines)
    guard text.count == Self.byteCount * 2, text.allSatisfy(\.isHexDigit) else { return nil }
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
      let next = text.index(index, offsetBy: 2)
      guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
      bytes.append(byte)
      index = next
    }
    self.init(bytes: bytes)
  }

  public var hex: String {
    bytes.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
  }
}
