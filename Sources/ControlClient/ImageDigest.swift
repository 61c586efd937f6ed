import ControlProtocol
import Crypto

/// SHA-256 (FIPS 180-4) of a whole image on the host: swift-crypto's (BoringSSL, with the
/// CPU's SHA extensions), the same digest as the node's `SHA256Hasher` (the tests compare
/// them), but fast in a debug build too, where the portable code does under 1 MB/s and a
/// 64 MiB disk would take minutes.
public enum ImageDigest {
  public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
    Array(SHA256.hash(data: bytes))
  }

  /// Of part of a larger buffer (a checkpoint file's section), without copying it.
  public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    var hasher = SHA256()
    hasher.update(bufferPointer: bytes)
    return Array(hasher.finalize())
  }
}
