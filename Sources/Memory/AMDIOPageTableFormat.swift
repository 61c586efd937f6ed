/// AMD-Vi host I/O page-table entries (AMD IOMMU spec #48882 rev 3.x §2.2.3, "I/O Page
/// Tables for Host Translations"): bit 0 PR (present), bits 11:9 NextLevel, bits 51:12 the
/// next table or page, bit 61 IR (read allowed), bit 62 IW (write allowed).
///
/// Unlike the x86 formats there is no page-size bit: a non-leaf entry names the level of the
/// table it points at in NextLevel (1-3 here), and NextLevel = 0 in a level-2 or level-3
/// entry makes it a 2 MiB or 1 GiB leaf (§2.2.3.1). A PTE (level 1) has NextLevel 0 too.
/// Permissions accumulate: an access needs IR/IW at every level and in the DTE (§2.2.3.2),
/// so non-leaf entries grant both and the leaf decides.
public enum AMDIOPageTableFormat: PageTableFormat {
  static let present: UInt64 = 1 << 0
  static let nextLevelShift: UInt64 = 9
  static let nextLevelMask: UInt64 = 0x7 << 9
  static let readable: UInt64 = 1 << 61
  static let writable: UInt64 = 1 << 62

  /// Only reached through the level-aware form (the builder always knows the level); kept
  /// for the protocol, as a level-1 table pointer.
  public static func tableEntry(physical: UInt64) -> UInt64 {
    tableEntry(physical: physical, pointingAtLevel: 1)
  }

  public static func tableEntry(physical: UInt64, pointingAtLevel level: Int) -> UInt64 {
    (physical & physicalAddressMask) | UInt64(level) << nextLevelShift | readable | writable
      | present
  }

  /// DMA has no execute right in host translation: only IR and IW are encoded. Empty
  /// permissions yield a not-present entry. NextLevel stays 0 for every leaf size.
  public static func leafEntry(
    physical: UInt64, size: PageSize, permissions: PagePermissions, memoryType: MemoryType
  ) -> UInt64 {
    var entry = (physical & physicalAddressMask) | present
    if permissions.contains(.read) { entry |= readable }
    if permissions.contains(.write) { entry |= writable }
    if entry & (readable | writable) == 0 { return 0 }
    return entry
  }

  public static func isPresent(_ entry: UInt64) -> Bool { entry & present != 0 }

  /// Level 1 is always a leaf; above it an entry with NextLevel 0 is a large page.
  public static func isLeaf(_ entry: UInt64, level: Int) -> Bool {
    level == 1 || entry & nextLevelMask == 0
  }

  public static func nextLevel(of entry: UInt64) -> Int {
    Int((entry & nextLevelMask) >> nextLevelShift)
  }

  public static func address(of entry: UInt64) -> UInt64 { entry & physicalAddressMask }

  public static func permissions(of entry: UInt64) -> PagePermissions {
    var result: PagePermissions = []
    if entry & readable != 0 { result.insert(.read) }
    if entry & writable != 0 { result.insert(.write) }
    return result
  }
}
