/// The kernel heap behind the Embedded Swift runtime's `posix_memalign`/`free`.
///
/// A boundary-tag allocator: first fit over an explicit free list, splitting
/// blocks on allocation and coalescing with both neighbours on free. It never
/// allocates itself: all metadata lives inside the arena.
public struct HeapAllocator {
  private let start: UInt
  private let end: UInt
  private var freeList: UInt = 0
  private var counters = HeapStatistics()

  /// Manages `size` bytes at `arena`, trimmed inward to 16-byte boundaries.
  public init(arena: UnsafeMutableRawPointer, size: Int) {
    let base = UInt(bitPattern: arena)
    let first = HeapBlock.alignUp(base, HeapBlock.granularity) ?? 0
    let limit = (base &+ UInt(max(size, 0))) & ~(HeapBlock.granularity - 1)
    if first != 0, limit > first, limit - first >= HeapBlock.minimumSize {
      start = first
      end = limit
      HeapBlock.setTags(first, size: limit - first, allocated: false)
      HeapBlock.setNext(first, 0)
      HeapBlock.setPrevious(first, 0)
      freeList = first
    } else {
      start = 0
      end = 0
    }
    counters.arenaBytes = Int(end - start)
  }

  /// Returns `size` bytes aligned to `alignment` (a power of two; at least 16
  /// is always honoured), or nil when no free block fits.
  public mutating func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
    guard size >= 0, alignment > 0, alignment & (alignment - 1) == 0,
      size <= Int.max / 2, let block = claim(size: UInt(size), alignment: UInt(alignment))
    else {
      counters.failedAllocations += 1
      return nil
    }
    HeapBlock.setRequestedBytes(block, UInt(size))
    counters.allocations += 1
    counters.bytesInUse += size
    counters.peakBytesInUse = max(counters.peakBytesInUse, counters.bytesInUse)
    return UnsafeMutableRawPointer(bitPattern: block + HeapBlock.headerSize)
  }

  /// Returns a block from `allocate`. Anything else is a kernel bug and traps.
  public mutating func free(_ pointer: UnsafeMutableRawPointer) {
    let block = UInt(bitPattern: pointer) &- HeapBlock.headerSize
    precondition(block >= start && block < end, "heap: freeing a pointer outside the arena")
    precondition(HeapBlock.isAllocated(block), "heap: double free")
    precondition(HeapBlock.footer(block) == HeapBlock.load(block), "heap: corrupted block")
    counters.bytesInUse -= Int(HeapBlock.requestedBytes(block))
    counters.frees += 1

    var merged = block
    var size = HeapBlock.size(block)
    let next = block + size
    if next < end && !HeapBlock.isAllocated(next) {
      unlink(next)
      size += HeapBlock.size(next)
    }
    if block > start {
      let previousTag = HeapBlock.load(block - HeapBlock.footerSize)
      if previousTag & HeapBlock.allocatedFlag == 0 {
        let previousSize = previousTag & ~(HeapBlock.granularity - 1)
        merged = block - previousSize
        unlink(merged)
        size += previousSize
      }
    }
    HeapBlock.setTags(merged, size: size, allocated: false)
    push(merged)
  }

  public var statistics: HeapStatistics {
    var result = counters
    var block = freeList
    while block != 0 {
      result.largestFreeBlock = max(result.largestFreeBlock, Int(HeapBlock.size(block)))
      block = HeapBlock.next(block)
    }
    return result
  }

  /// Walks every block and the free list, checking tags, coalescing, links and
  /// the in-use byte count. Returns false at the first inconsistency.
  public func validate() -> Bool {
    var block = start
    var freeBlocks = 0
    var requested: UInt = 0
    var previousWasFree = false
    while block < end {
      let size = HeapBlock.size(block)
      guard size >= HeapBlock.minimumSize, size <= end - block,
        HeapBlock.footer(block) == HeapBlock.load(block)
      else { return false }
      let isFree = !HeapBlock.isAllocated(block)
      if isFree {
        guard !previousWasFree else { return false }  // Neighbours must have coalesced.
        freeBlocks += 1
      } else {
        requested += HeapBlock.requestedBytes(block)
      }
      previousWasFree = isFree
      block += size
    }
    guard block == end, Int(requested) == counters.bytesInUse else { return false }

    var listed = 0
    var previous: UInt = 0
    var node = freeList
    while node != 0 {
      guard listed < freeBlocks, node >= start, node < end,
        node % HeapBlock.granularity == 0, !HeapBlock.isAllocated(node),
        HeapBlock.previous(node) == previous
      else { return false }
      listed += 1
      previous = node
      node = HeapBlock.next(node)
    }
    return listed == freeBlocks
  }

  // MARK: - Free list

  /// Finds the first free block that can hold an aligned payload of `size`,
  /// splits off what is not needed, and returns the allocated block.
  private mutating func claim(size: UInt, alignment: UInt) -> UInt? {
    let alignment = max(alignment, HeapBlock.granularity)
    guard
      let rounded = HeapBlock.alignUp(
        HeapBlock.headerSize + max(size, 1) + HeapBlock.footerSize, HeapBlock.granularity)
    else { return nil }
    let needed = max(rounded, HeapBlock.minimumSize)

    var candidate = freeList
    while candidate != 0 {
      let available = HeapBlock.size(candidate)
      if let lead = leadingGap(of: candidate, alignment: alignment), lead <= available,
        available - lead >= needed
      {
        unlink(candidate)
        if lead > 0 {
          // The gap before an over-aligned payload stays free.
          HeapBlock.setTags(candidate, size: lead, allocated: false)
          push(candidate)
        }
        let block = candidate + lead
        var blockSize = available - lead
        if blockSize - needed >= HeapBlock.minimumSize {
          HeapBlock.setTags(block + needed, size: blockSize - needed, allocated: false)
          push(block + needed)
          blockSize = needed
        }
        HeapBlock.setTags(block, size: blockSize, allocated: true)
        return block
      }
      candidate = HeapBlock.next(candidate)
    }
    return nil
  }

  /// Bytes to skip at the start of `block` so the payload is aligned; the gap is
  /// either zero or large enough to remain a free block of its own.
  private func leadingGap(of block: UInt, alignment: UInt) -> UInt? {
    guard let payload = HeapBlock.alignUp(block + HeapBlock.headerSize, alignment) else {
      return nil
    }
    let gap = payload - HeapBlock.headerSize - block
    if gap == 0 || gap >= HeapBlock.minimumSize { return gap }
    guard
      let later = HeapBlock.alignUp(
        block + HeapBlock.minimumSize + HeapBlock.headerSize, alignment)
    else { return nil }
    return later - HeapBlock.headerSize - block
  }

  private mutating func push(_ block: UInt) {
    HeapBlock.setPrevious(block, 0)
    HeapBlock.setNext(block, freeList)
    if freeList != 0 { HeapBlock.setPrevious(freeList, block) }
    freeList = block
  }

  private mutating func unlink(_ block: UInt) {
    let next = HeapBlock.next(block)
    let previous = HeapBlock.previous(block)
    if previous != 0 { HeapBlock.setNext(previous, next) } else { freeList = next }
    if next != 0 { HeapBlock.setPrevious(next, previous) }
  }
}
