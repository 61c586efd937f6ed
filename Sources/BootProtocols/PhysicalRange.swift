/// A half-open range `[start, end)` of physical addresses.
public struct PhysicalRange: Equatable, Sendable {
  public var start: UInt64
  /// Exclusive upper bound.
  public var end: UInt64

  public init(start: UInt64, end: UInt64) {
    self.start = start
    self.end = end
  }

  /// Number of bytes covered; zero for an empty or inverted range.
  public var size: UInt64 { end > start ? end - start : 0 }

  /// Whether the two ranges share at least one byte.
  public func overlaps(_ other: PhysicalRange) -> Bool {
    start < other.end && other.start < end
  }
}
