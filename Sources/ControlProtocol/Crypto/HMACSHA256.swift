/// HMAC-SHA-256 (RFC 2104; SHA-256 per FIPS 180-4, as RFC 4231 uses it).
///
/// The key is absorbed once: `init(key:)` keeps the hash states after the inner and outer
/// padded key blocks, so authenticating a message costs its own blocks plus one outer block
/// (a 96-byte request header and payload: three compressions in all).
public struct HMACSHA256 {
  public static let tagSize = 32

  private let inner: SHA256Hasher
  private let outer: SHA256Hasher

  public init(key: [UInt8]) {
    // RFC 2104 §2: a key longer than the block is hashed first; then it is padded with
    // zeros to the block size B = 64 and XORed with ipad (0x36) and opad (0x5c).
    var paddedKey = key.count > SHA256Hasher.blockSize ? SHA256Hasher.hash(key) : key
    while paddedKey.count < SHA256Hasher.blockSize { paddedKey.append(0) }
    var innerPad = paddedKey
    var outerPad = paddedKey
    for index in 0..<SHA256Hasher.blockSize {
      innerPad[index] ^= 0x36
      outerPad[index] ^= 0x5c
    }
    var inner = SHA256Hasher()
    inner.update(innerPad)
    var outer = SHA256Hasher()
    outer.update(outerPad)
    self.inner = inner
    self.outer = outer
  }

  /// RFC 2104 §2: H(K XOR opad, H(K XOR ipad, text)) over `message[start..<end]`.
  public func authenticationCode(for message: [UInt8], from start: Int, to end: Int) -> [UInt8] {
    var innerHash = inner
    innerHash.update(message, from: start, to: end)
    var outerHash = outer
    outerHash.update(innerHash.finalize())
    return outerHash.finalize()
  }

  public func authenticationCode(for message: [UInt8]) -> [UInt8] {
    authenticationCode(for: message, from: 0, to: message.count)
  }

  /// Whether `message[start..<end]` has the tag `message[tagStart..<tagStart + 32]`, compared
  /// in constant time.
  public func isValid(_ message: [UInt8], from start: Int, to end: Int, tagAt tagStart: Int) -> Bool
  {
    guard tagStart >= 0, tagStart <= message.count - HMACSHA256.tagSize else { return false }
    let expected = authenticationCode(for: message, from: start, to: end)
    return ConstantTime.equals(expected, message, at: tagStart)
  }
}
