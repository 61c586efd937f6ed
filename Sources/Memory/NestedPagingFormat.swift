/// AMD nested page tables: the same layout as long-mode paging (AMD APM Vol 2
/// §5.3), but every entry has U/S set because the processor treats nested
/// walks as user accesses (APM Vol 2 §15.25.5).
public enum NestedPagingFormat: PageTableFormat {
  public static func tableEntry(physical: UInt64) -> UInt64 {
    HostPagingFormat.tableEntry(physical: physical)
  }

  public static func leafEntry(
    physical: UInt64, size: PageSize, permissions: PagePermissions, memoryType: MemoryType
  ) -> UInt64 {
    HostPagingFormat.leafEntry(
      physical: physical, size: size, permissions: permissions.union(.user),
      memoryType: memoryType)
  }

  public static func isPresent(_ entry: UInt64) -> Bool { HostPagingFormat.isPresent(entry) }

  public static func isLeaf(_ entry: UInt64, level: Int) -> Bool {
    HostPagingFormat.isLeaf(entry, level: level)
  }

  public static func address(of entry: UInt64) -> UInt64 { HostPagingFormat.address(of: entry) }

  public static func permissions(of entry: UInt64) -> PagePermissions {
    HostPagingFormat.permissions(of: entry)
  }
}
