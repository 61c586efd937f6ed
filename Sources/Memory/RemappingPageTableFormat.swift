/// Intel VT-d second-level paging entries (VT-d spec rev 4.1 §9.8): bit 0 read, bit 1 write,
/// bit 7 page size on PDE/PDPE (2 MiB / 1 GiB super-pages), bits 51:12 address. Memory-type
/// bits (EMT, IPAT) are ignored unless the context asks for extended memory types, which
/// Peregrine's domains never do, so `memoryType` is not encoded.
public enum RemappingPageTableFormat: PageTableFormat {
  static let readable: UInt64 = 1 << 0
  static let writable: UInt64 = 1 << 1
  static let superPage: UInt64 = 1 << 7

  /// Non-leaf entries grant read and write; the leaf decides (§3.7.1: the access is allowed
  /// only when every level allows it).
  public static func tableEntry(physical: UInt64) -> UInt64 {
    (physical & physicalAddressMask) | readable | writable
  }

  /// DMA has no execute right (execute requests are not enabled, ECAP.ERS): only read and
  /// write are encoded. Empty permissions yield a not-present entry.
  public static func leafEntry(
    physical: UInt64, size: PageSize, permissions: PagePermissions, memoryType: MemoryType
  ) -> UInt64 {
    var entry = physical & physicalAddressMask
    if permissions.contains(.read) { entry |= readable }
    if permissions.contains(.write) { entry |= writable }
    if entry & (readable | writable) == 0 { return 0 }
    if size != .size4K { entry |= superPage }
    return entry
  }

  /// Present when read or write is granted (§9.8: R and W both clear = not present).
  public static func isPresent(_ entry: UInt64) -> Bool { entry & (readable | writable) != 0 }

  public static func isLeaf(_ entry: UInt64, level: Int) -> Bool {
    switch level {
    case 1: true
    case 2, 3: entry & superPage != 0
    default: false
    }
  }

  public static func address(of entry: UInt64) -> UInt64 { entry & physicalAddressMask }

  public static func permissions(of entry: UInt64) -> PagePermissions {
    var result: PagePermissions = []
    if entry & readable != 0 { result.insert(.read) }
    if entry & writable != 0 { result.insert(.write) }
    return result
  }
}
