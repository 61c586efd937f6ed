/// A snapshot of the kernel heap's bookkeeping.
public struct HeapStatistics: Equatable, Sendable {
  /// Sum of the sizes callers asked for in live allocations (overhead excluded).
  public var bytesInUse: Int
  public var peakBytesInUse: Int
  public var allocations: Int
  public var frees: Int
  public var failedAllocations: Int
  /// Bytes managed after aligning the arena's ends to 16 bytes.
  public var arenaBytes: Int
  /// Size of the largest free block including its header and footer.
  public var largestFreeBlock: Int

  public init(
    bytesInUse: Int = 0, peakBytesInUse: Int = 0, allocations: Int = 0, frees: Int = 0,
    failedAllocations: Int = 0, arenaBytes: Int = 0, largestFreeBlock: Int = 0
  ) {
    self.bytesInUse = bytesInUse
    self.peakBytesInUse = peakBytesInUse
    self.allocations = allocations
    self.frees = frees
    self.failedAllocations = failedAllocations
    self.arenaBytes = arenaBytes
    self.largestFreeBlock = largestFreeBlock
  }
}
