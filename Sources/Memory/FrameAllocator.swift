/// Hands out 4 KiB physical frames from the firmware's usable memory.
///
/// Free memory is a sorted array of disjoint, non-adjacent ranges: the
/// machine has few holes, so first fit over a short array is both simple and fast.
public struct FrameAllocator {
  public static let frameSize: UInt64 = 4096

  /// Sorted, disjoint and coalesced (no two ranges touch).
  public private(set) var freeRanges: [PhysicalRegion]
  /// Everything the allocator manages; used to reject frees of memory it never owned.
  private let managedRanges: [PhysicalRegion]
  public private(set) var freeFrames: Int
  public let totalFrames: Int

  /// - Parameters:
  ///   - usable: The firmware's usable regions, trimmed inward to frame boundaries.
  ///   - reserved: Ranges never handed out (kernel image, modules, boot information,
  ///     first MiB, ...), widened outward to frame boundaries.
  public init(usable: [PhysicalRegion], reserved: [PhysicalRegion]) {
    var ranges: [PhysicalRegion] = []
    for region in usable {
      guard let start = Alignment.up(region.start, to: Self.frameSize) else { continue }
      let end = Alignment.down(region.end, to: Self.frameSize)
      if end > start { ranges.append(PhysicalRegion(start: start, end: end)) }
    }
    ranges = Self.coalesced(ranges)
    for region in reserved where !region.isEmpty {
      let start = Alignment.down(region.start, to: Self.frameSize)
      let end = Alignment.up(region.end, to: Self.frameSize) ?? UInt64.max
      ranges = Self.subtracting(PhysicalRegion(start: start, end: end), from: ranges)
    }
    freeRanges = ranges
    managedRanges = ranges
    var frames = 0
    for range in ranges { frames += Int(range.size / Self.frameSize) }
    freeFrames = frames
    totalFrames = frames
  }

  /// Allocates `count` contiguous frames whose first address is a multiple of
  /// `alignment`, first fit from low addresses. Returns nil when no run fits.
  public mutating func allocate(frames count: Int = 1, alignment: UInt64 = 4096) -> UInt64? {
    allocate(frames: count, alignment: alignment, below: UInt64.max)
  }

  /// Like `allocate(frames:alignment:)`, but the whole run must end at or below
  /// `limit` (e.g. 1 MiB for real-mode trampolines, 4 GiB for 32-bit devices).
  public mutating func allocate(frames count: Int, alignment: UInt64, below limit: UInt64)
    -> UInt64?
  {
    precondition(Alignment.isPowerOfTwo(alignment), "alignment must be a power of two")
    guard count > 0 else { return nil }
    let (length, overflow) = UInt64(count).multipliedReportingOverflow(by: Self.frameSize)
    guard !overflow else { return nil }
    let alignment = max(alignment, Self.frameSize)

    for index in freeRanges.indices {
      let range = freeRanges[index]
      guard let start = Alignment.up(range.start, to: alignment) else { continue }
      let (end, wraps) = start.addingReportingOverflow(length)
      guard !wraps, end <= range.end, end <= limit else { continue }
      carve(PhysicalRegion(start: start, end: end), fromRangeAt: index)
      freeFrames -= count
      return start
    }
    return nil
  }

  /// Returns `count` frames starting at `address`. Freeing memory that is free,
  /// reserved or unknown is a kernel bug and traps.
  public mutating func free(_ address: UInt64, frames count: Int = 1) {
    precondition(Alignment.isAligned(address, to: Self.frameSize), "freeing unaligned frame")
    precondition(count > 0, "freeing zero frames")
    let region = PhysicalRegion(start: address, end: address + UInt64(count) * Self.frameSize)
    precondition(
      managedRanges.contains { $0.start <= region.start && region.end <= $0.end },
      "freeing memory the allocator never owned")

    // Insert before the first range that starts after `region`, then merge with neighbours.
    var index = 0
    while index < freeRanges.count && freeRanges[index].start < region.start { index += 1 }
    precondition(index == 0 || freeRanges[index - 1].end <= region.start, "double free")
    precondition(
      index == freeRanges.count || region.end <= freeRanges[index].start, "double free")

    let joinsPrevious = index > 0 && freeRanges[index - 1].end == region.start
    let joinsNext = index < freeRanges.count && freeRanges[index].start == region.end
    switch (joinsPrevious, joinsNext) {
    case (true, true):
      freeRanges[index - 1].end = freeRanges[index].end
      freeRanges.remove(at: index)
    case (true, false):
      freeRanges[index - 1].end = region.end
    case (false, true):
      freeRanges[index].start = region.start
    case (false, false):
      freeRanges.insert(region, at: index)
    }
    freeFrames += count
  }

  /// Whether the frame containing `address` is currently free.
  public func isFree(_ address: UInt64) -> Bool {
    freeRanges.contains { $0.start <= address && address < $0.end }
  }

  /// Removes `taken` (which lies inside `freeRanges[index]`), leaving up to two pieces.
  private mutating func carve(_ taken: PhysicalRegion, fromRangeAt index: Int) {
    let range = freeRanges[index]
    let before = PhysicalRegion(start: range.start, end: taken.start)
    let after = PhysicalRegion(start: taken.end, end: range.end)
    switch (before.isEmpty, after.isEmpty) {
    case (true, true): freeRanges.remove(at: index)
    case (false, true): freeRanges[index] = before
    case (true, false): freeRanges[index] = after
    case (false, false):
      freeRanges[index] = before
      freeRanges.insert(after, at: index + 1)
    }
  }

  /// Sorts and merges overlapping or touching ranges (firmware maps may list RAM twice).
  static func coalesced(_ input: [PhysicalRegion]) -> [PhysicalRegion] {
    var sorted = input
    var index = 1
    while index < sorted.count {  // Insertion sort keeps the kernel free of extra machinery.
      let item = sorted[index]
      var hole = index
      while hole > 0 && sorted[hole - 1].start > item.start {
        sorted[hole] = sorted[hole - 1]
        hole -= 1
      }
      sorted[hole] = item
      index += 1
    }
    var result: [PhysicalRegion] = []
    for range in sorted {
      if let last = result.last, range.start <= last.end {
        result[result.count - 1].end = max(last.end, range.end)
      } else {
        result.append(range)
      }
    }
    return result
  }

  /// `ranges` minus `hole`; `ranges` stays sorted.
  static func subtracting(_ hole: PhysicalRegion, from ranges: [PhysicalRegion]) -> [PhysicalRegion]
  {
    var result: [PhysicalRegion] = []
    for range in ranges {
      if hole.end <= range.start || range.end <= hole.start {
        result.append(range)
        continue
      }
      if range.start < hole.start {
        result.append(PhysicalRegion(start: range.start, end: hole.start))
      }
      if hole.end < range.end { result.append(PhysicalRegion(start: hole.end, end: range.end)) }
    }
    return result
  }
}
