/// Bit layout of one flavour of x86-64 4-level page tables. All three formats
/// share the 512-entry, 9-bits-per-level structure (Intel SDM Vol 3A §4.5) and
/// differ only in entry bits, so the builder is generic over this protocol and
/// specialised statically.
public protocol PageTableFormat {
  /// A non-leaf entry pointing at the next table, fully permissive so the leaf decides.
  static func tableEntry(physical: UInt64) -> UInt64
  /// The same, knowing the level (1-3) of the table it points at: AMD I/O page tables
  /// encode it in the entry (AMD IOMMU spec §2.2.3, NextLevel); the x86 formats ignore it.
  static func tableEntry(physical: UInt64, pointingAtLevel level: Int) -> UInt64
  static func leafEntry(
    physical: UInt64, size: PageSize, permissions: PagePermissions, memoryType: MemoryType
  ) -> UInt64
  static func isPresent(_ entry: UInt64) -> Bool
  /// `level` 1 = PT, 2 = PD, 3 = PDPT, 4 = PML4.
  static func isLeaf(_ entry: UInt64, level: Int) -> Bool
  /// The frame address in bits 51:12; for large pages the caller masks the low bits.
  static func address(of entry: UInt64) -> UInt64
  static func permissions(of entry: UInt64) -> PagePermissions
}

extension PageTableFormat {
  public static func tableEntry(physical: UInt64, pointingAtLevel level: Int) -> UInt64 {
    tableEntry(physical: physical)
  }
}

/// Bits 51:12 hold the physical address in every format (SDM Vol 3A §4.5, Vol 3C §29.3.2).
let physicalAddressMask: UInt64 = 0x000F_FFFF_FFFF_F000
