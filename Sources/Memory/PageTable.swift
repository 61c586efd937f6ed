/// One 512-entry table reached through `PhysicalMemoryAccess`. This is the only
/// place the page-table code touches raw memory.
struct PageTable<Memory: PhysicalMemoryAccess> {
  static var entryCount: Int { 512 }

  let base: UnsafeMutableRawPointer

  init(memory: Memory, physical: UInt64) {
    base = memory.pointer(to: physical)
  }

  subscript(index: Int) -> UInt64 {
    get { base.load(fromByteOffset: index &* 8, as: UInt64.self) }
    nonmutating set { base.storeBytes(of: newValue, toByteOffset: index &* 8, as: UInt64.self) }
  }

  /// Index of `address` in a table at `level`: 9 bits per level above the 12-bit
  /// page offset (Intel SDM Vol 3A §4.5, Figure 4-8).
  static func index(of address: UInt64, level: Int) -> Int {
    Int((address >> shift(level: level)) & 0x1FF)
  }

  /// log2 of the bytes one entry at `level` covers.
  static func shift(level: Int) -> UInt64 { 12 + 9 * UInt64(level - 1) }
}
