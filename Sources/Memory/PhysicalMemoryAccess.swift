/// How the page-table builder reaches tables by physical address: the kernel
/// uses its direct map, tests use a host buffer.
public protocol PhysicalMemoryAccess {
  func pointer(to physical: UInt64) -> UnsafeMutableRawPointer
}

/// Where the page-table builder gets frames for new tables.
public protocol FrameSource {
  /// The physical address of a zeroed 4 KiB frame, or nil when memory is exhausted.
  mutating func allocateZeroedFrame() -> UInt64?
}

/// Why a page-table operation failed.
public enum PageTableError: Error, Equatable {
  case outOfMemory
  /// An address or length is not 4 KiB aligned, or an unmap splits a large page.
  case misaligned
  /// The given address is already mapped.
  case alreadyMapped(UInt64)
  /// The given address is not mapped.
  case notMapped(UInt64)
}
