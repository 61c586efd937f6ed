/// A half-open range `[start, end)` of physical addresses. Memory keeps its own
/// type so it does not depend on the boot protocol; the kernel converts.
public struct PhysicalRegion: Equatable, Sendable {
  public var start: UInt64
  /// Exclusive upper bound.
  public var end: UInt64

  public init(start: UInt64, end: UInt64) {
    self.start = start
    self.end = end
  }

  public var size: UInt64 { end > start ? end - start : 0 }
  public var isEmpty: Bool { end <= start }
}
