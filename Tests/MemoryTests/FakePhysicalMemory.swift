import Memory

/// A host buffer posing as physical memory at `physicalBase`, so page tables
/// can be built and inspected without hardware.
struct FakePhysicalMemory: PhysicalMemoryAccess {
  let buffer: UnsafeMutableRawPointer
  let physicalBase: UInt64
  let size: Int

  init(physicalBase: UInt64 = 0x10_0000, size: Int = 4 << 20) {
    buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    buffer.initializeMemory(as: UInt8.self, repeating: 0xCC, count: size)  // Garbage on purpose.
    self.physicalBase = physicalBase
    self.size = size
  }

  func pointer(to physical: UInt64) -> UnsafeMutableRawPointer {
    precondition(contains(physical), "physical address outside the fake memory")
    return buffer + Int(physical - physicalBase)
  }

  func contains(_ physical: UInt64) -> Bool {
    physical >= physicalBase && physical < physicalBase + UInt64(size)
  }

  /// Reads a 64-bit entry, or nil outside the buffer, as a guest walker's `read`.
  func readEntry(_ physical: UInt64) -> UInt64? {
    guard contains(physical), contains(physical + 7) else { return nil }
    return pointer(to: physical).load(as: UInt64.self)
  }

  func deallocate() { buffer.deallocate() }
}

/// Bump-allocates zeroed frames from the fake memory, optionally up to a limit.
struct FakeFrameSource: FrameSource {
  let memory: FakePhysicalMemory
  var next: UInt64
  var remaining: Int
  private(set) var handedOut = 0

  init(memory: FakePhysicalMemory, limit: Int = .max) {
    self.memory = memory
    self.next = memory.physicalBase
    self.remaining = limit
  }

  mutating func allocateZeroedFrame() -> UInt64? {
    guard remaining > 0, memory.contains(next + 0xFFF) else { return nil }
    remaining -= 1
    handedOut += 1
    let frame = next
    memory.pointer(to: frame).initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
    next += 4096
    return frame
  }
}

/// Reproducible pseudo-random numbers (SplitMix64, Steele et al. 2014).
struct SplitMix64 {
  var state: UInt64

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform-enough value in `0..<bound` for tests.
  mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
