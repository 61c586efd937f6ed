/// One guest segment register as the VMCS holds it: selector, base, limit and access
/// rights (SDM 3C §25.4.1, Table 25-2 "Format of Access Rights").
public struct VMXSegment: Equatable {
  public var selector: UInt16
  public var base: UInt64
  public var limit: UInt32
  public var accessRights: UInt32

  public init(selector: UInt16, base: UInt64, limit: UInt32, accessRights: UInt32) {
    self.selector = selector
    self.base = base
    self.limit = limit
    self.accessRights = accessRights
  }

  /// Access rights bit 16: the segment is unusable and the processor ignores the rest.
  public static let unusable: UInt32 = 1 << 16

  /// Present (bit 7), S = 1 code (bit 4), execute/read, accessed: type 0xB.
  public static let realModeCodeAccessRights: UInt32 = 0x9B
  /// Present, S = 1 data, read/write, accessed: type 0x3.
  public static let realModeDataAccessRights: UInt32 = 0x93
  /// Present, S = 0, busy 32/64-bit TSS (type 0xB): VM entry rejects an available TSS.
  public static let busyTSSAccessRights: UInt32 = 0x8B
  /// Unusable LDT: bit 16 with a present LDT type (2).
  public static let unusableLDTAccessRights: UInt32 = unusable | 0x82

  public var isUsable: Bool { accessRights & Self.unusable == 0 }
}
