import HypervisorCore
import Memory

/// The hypervisor identity maps all physical memory, so a physical address is also the
/// virtual address that reaches it.
struct IdentityMappedMemory: PhysicalMemoryAccess {
  func pointer(to physical: UInt64) -> UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: UInt(physical))!
  }
}

/// The machine's page frames: one allocator for the whole machine, behind which every VM's
/// memory, page tables and control blocks come.
enum PhysicalFrames {
  /// Only through `allocateZeroed` and `free`, which hold `lock`: every CPU allocates.
  static var allocator = FrameAllocator(usable: [], reserved: [])
  static let lock = TicketLock()

  static var freeFrames: Int { lock.withLock { allocator.freeFrames } }

  static func free(_ address: UInt64, frames count: Int = 1) {
    lock.withLock { allocator.free(address, frames: count) }
  }

  /// A zeroed 4 KiB frame, or nil when memory is exhausted.
  static func allocateZeroed(frames count: Int = 1, alignment: UInt64 = 4096) -> UInt64? {
    let found = lock.withLock { allocator.allocate(frames: count, alignment: alignment) }
    guard let address = found else { return nil }
    IdentityMappedMemory().pointer(to: address).initializeMemory(
      as: UInt8.self, repeating: 0, count: count * 4096)
    return address
  }
}

/// Page-table frames come from the machine's frame allocator, zeroed.
struct KernelFrameSource: FrameSource {
  mutating func allocateZeroedFrame() -> UInt64? { PhysicalFrames.allocateZeroed() }
}
