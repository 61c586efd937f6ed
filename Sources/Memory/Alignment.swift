/// Power-of-two rounding used by the frame allocator and the page-table builder.
enum Alignment {
  /// Rounds `value` down to a multiple of the power of two `alignment`.
  static func down(_ value: UInt64, to alignment: UInt64) -> UInt64 {
    value & ~(alignment - 1)
  }

  /// Rounds `value` up to a multiple of the power of two `alignment`; nil on overflow.
  static func up(_ value: UInt64, to alignment: UInt64) -> UInt64? {
    let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
    return overflow ? nil : sum & ~(alignment - 1)
  }

  static func isAligned(_ value: UInt64, to alignment: UInt64) -> Bool {
    value & (alignment - 1) == 0
  }

  static func isPowerOfTwo(_ value: UInt64) -> Bool {
    value != 0 && value & (value - 1) == 0
  }
}
