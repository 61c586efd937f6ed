/// IA-32e 4-level paging as used by the host's own CR3 (Intel SDM Vol 3A §4.5, Tables 4-15..4-20).
public enum HostPagingFormat: PageTableFormat {
  static let present: UInt64 = 1 << 0
  static let writable: UInt64 = 1 << 1
  static let userAccessible: UInt64 = 1 << 2
  static let writeThrough: UInt64 = 1 << 3  // PWT
  static let cacheDisable: UInt64 = 1 << 4  // PCD
  static let pageSize: UInt64 = 1 << 7  // PS: this PDPTE/PDE maps a 1 GiB/2 MiB page
  static let noExecute: UInt64 = 1 << 63  // XD, effective with EFER.NXE

  public static func tableEntry(physical: UInt64) -> UInt64 {
    // Rights are the intersection along the walk (SDM §4.6), so tables grant everything.
    (physical & physicalAddressMask) | present | writable | userAccessible
  }

  public static func leafEntry(
    physical: UInt64, size: PageSize, permissions: PagePermissions, memoryType: MemoryType
  ) -> UInt64 {
    var entry = (physical & physicalAddressMask) | present | cachingBits(memoryType)
    if permissions.contains(.write) { entry |= writable }
    if permissions.contains(.user) { entry |= userAccessible }
    if !permissions.contains(.execute) { entry |= noExecute }
    if size != .size4K { entry |= pageSize }
    return entry
  }

  public static func isPresent(_ entry: UInt64) -> Bool { entry & present != 0 }

  public static func isLeaf(_ entry: UInt64, level: Int) -> Bool {
    switch level {
    case 1: true
    case 2, 3: entry & pageSize != 0
    default: false
    }
  }

  public static func address(of entry: UInt64) -> UInt64 { entry & physicalAddressMask }

  public static func permissions(of entry: UInt64) -> PagePermissions {
    guard isPresent(entry) else { return [] }
    var result: PagePermissions = .read  // x86 paging cannot express a non-readable page.
    if entry & writable != 0 { result.insert(.write) }
    if entry & userAccessible != 0 { result.insert(.user) }
    if entry & noExecute == 0 { result.insert(.execute) }
    return result
  }

  /// PWT/PCD select PAT entries 0-3, which at power-on are WB, WT, UC-, UC
  /// (SDM Vol 3A §12.12.4). WC and WP need a reprogrammed PAT, so they fall
  /// back to UC, the safe choice for device memory.
  static func cachingBits(_ type: MemoryType) -> UInt64 {
    switch type {
    case .writeBack: 0
    case .writeThrough: writeThrough
    case .uncacheable, .writeCombining, .writeProtected: cacheDisable | writeThrough
    }
  }
}
