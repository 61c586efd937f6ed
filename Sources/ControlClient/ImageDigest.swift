import ControlProtocol

/// SHA-256 (FIPS 180-4) of a whole image or checkpoint on the host: ControlProtocol's
/// `SHA256Hasher`, the node's own code (the package builds that module optimized even in
/// debug builds: about 72 MB/s, so a 64 MiB disk takes about a second).
public enum ImageDigest {
  public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
    SHA256Hasher.hash(bytes)
  }

  /// Of part of a larger buffer (a checkpoint file's section), in 1 MiB pieces rather than
  /// one copy of the whole section.
  public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    var hasher = SHA256Hasher()
    let piece = 1 << 20
    var start = 0
    while start < bytes.count {
      let end = min(bytes.count, start + piece)
      hasher.update(Array(UnsafeRawBufferPointer(rebasing: bytes[start..<end])))
      start = end
    }
    return hasher.finalize()
  }
}
