import Glibc

/// The clocks the client reads: monotonic for timeouts, wall time for sequence numbers.
enum Clock {
  /// Milliseconds on CLOCK_MONOTONIC.
  static func milliseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
  }

  /// Microseconds since 1970: a first sequence number above any an earlier run of this
  /// client used (docs/control-protocol.md, "Sequence numbers").
  static func microsecondsSince1970() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
  }
}
