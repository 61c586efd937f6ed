/// Intel EPT entries (Intel SDM Vol 3C §29.3.2): bit 0 read, bit 1 write,
/// bit 2 execute, bits 5:3 memory type and bit 6 ignore-PAT on leaves,
/// bit 7 large page, bits 51:12 address.
public enum ExtendedPageTableFormat: PageTableFormat {
  static let readable: UInt64 = 1 << 0
  static let writable: UInt64 = 1 << 1
  static let executable: UInt64 = 1 << 2
  static let memoryTypeShift: UInt64 = 3
  static let largePage: UInt64 = 1 << 7

  public static func tableEntry(physical: UInt64) -> UInt64 {
    (physical & physicalAddressMask) | readable | writable | executable
  }

  /// Writable implies readable: write-without-read is an EPT misconfiguration
  /// (SDM Vol 3C §29.3.3.1). Ignore-PAT stays clear so the guest PAT still combines
  /// with the EPT type (§29.3.7.2). Empty permissions yield a not-present entry.
  public static func leafEntry(
    physical: UInt64, size: PageSize, permissions: PagePermissions, memoryType: MemoryType
  ) -> UInt64 {
    var entry = (physical & physicalAddressMask) | UInt64(memoryType.rawValue) << memoryTypeShift
    if permissions.contains(.read) || permissions.contains(.write) { entry |= readable }
    if permissions.contains(.write) { entry |= writable }
    if permissions.contains(.execute) { entry |= executable }
    if size != .size4K { entry |= largePage }
    return entry
  }

  /// An entry is present when any of bits 2:0 is set (SDM Vol 3C §29.3.2).
  public static func isPresent(_ entry: UInt64) -> Bool {
    entry & (readable | writable | executable) != 0
  }

  public static func isLeaf(_ entry: UInt64, level: Int) -> Bool {
    switch level {
    case 1: true
    case 2, 3: entry & largePage != 0
    default: false
    }
  }

  public static func address(of entry: UInt64) -> UInt64 { entry & physicalAddressMask }

  public static func permissions(of entry: UInt64) -> PagePermissions {
    var result: PagePermissions = []
    if entry & readable != 0 { result.insert(.read) }
    if entry & writable != 0 { result.insert(.write) }
    if entry & executable != 0 { result.insert(.execute) }
    return result
  }

  /// The memory type of a leaf, or nil for an encoding the SDM reserves.
  public static func memoryType(of entry: UInt64) -> MemoryType? {
    MemoryType(rawValue: UInt8((entry >> memoryTypeShift) & 0x7))
  }
}
