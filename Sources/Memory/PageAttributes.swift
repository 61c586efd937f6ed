/// Access rights of a mapping, translated by each `PageTableFormat` into its own bits.
public struct PagePermissions: OptionSet, Equatable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  public static let read = PagePermissions(rawValue: 1 << 0)
  public static let write = PagePermissions(rawValue: 1 << 1)
  public static let execute = PagePermissions(rawValue: 1 << 2)
  /// User-mode access. AMD NPT needs it on every entry because nested walks are
  /// treated as user accesses (AMD APM Vol 2 §15.25.5).
  public static let user = PagePermissions(rawValue: 1 << 3)
}

/// Memory types encoded as in the PAT and in EPT leaves (Intel SDM Vol 3A §12.3, Vol 3C §29.3.7).
public enum MemoryType: UInt8, Sendable {
  case uncacheable = 0
  case writeCombining = 1
  case writeThrough = 4
  case writeProtected = 5
  case writeBack = 6
}

/// Page sizes of 4-level paging (Intel SDM Vol 3A §4.5).
public enum PageSize: UInt64, Sendable {
  case size4K = 0x1000
  case size2M = 0x20_0000
  case size1G = 0x4000_0000

  /// The paging level whose leaf maps a page of this size (1 = PT, 2 = PD, 3 = PDPT).
  public var level: Int {
    switch self {
    case .size4K: 1
    case .size2M: 2
    case .size1G: 3
    }
  }

  /// The page size mapped by a leaf at `level`, if that level may hold leaves.
  public init?(level: Int) {
    switch level {
    case 1: self = .size4K
    case 2: self = .size2M
    case 3: self = .size1G
    default: return nil
    }
  }
}
