#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Whether bytes are all zeros, by `memcmp` against a page of zeros: a disk image is tested
/// chunk by chunk (64 Ki chunks for 64 MiB), and a byte loop in a debug build of the CLI
/// took seconds for that.
public enum ZeroDetection {
  private static let zeros = [UInt8](repeating: 0, count: 4096)

  public static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    return zeros.withUnsafeBytes { page in
      while offset < bytes.count {
        let count = min(page.count, bytes.count - offset)
        if memcmp(bytes.baseAddress! + offset, page.baseAddress!, count) != 0 { return false }
        offset += count
      }
      return true
    }
  }

  /// `bytes[range]` all zeros.
  public static func isZero(_ bytes: [UInt8], _ range: Range<Int>) -> Bool {
    bytes.withUnsafeBytes { isZero(UnsafeRawBufferPointer(rebasing: $0[range])) }
  }
}
