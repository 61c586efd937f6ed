/// A 128-bit AMD-Vi command-buffer entry (AMD IOMMU spec #48882 rev 3.x §2.4, "Commands"):
/// opcode in bits 63:60 of the first quadword.
public struct AMDViCommand: Equatable, Sendable {
  public var low: UInt64
  public var high: UInt64

  public init(low: UInt64, high: UInt64) {
    self.low = low
    self.high = high
  }

  public var opcode: UInt8 { UInt8(low >> 60) }

  /// COMPLETION_WAIT (01h, §2.4.1) with S = 1: once every earlier command is done, the
  /// IOMMU writes `data` to the 8-byte aligned `address` (bits 51:3).
  public static func completionWait(storeTo address: UInt64, data: UInt64) -> AMDViCommand {
    AMDViCommand(low: 1 << 60 | (address & 0x000F_FFFF_FFFF_FFF8) | 1, high: data)
  }

  /// INVALIDATE_DEVTAB_ENTRY (02h, §2.4.2): drop what the IOMMU cached of one DTE.
  public static func invalidateDeviceTableEntry(_ device: UInt16) -> AMDViCommand {
    AMDViCommand(low: 2 << 60 | UInt64(device), high: 0)
  }

  /// INVALIDATE_IOMMU_PAGES (03h, §2.4.3) for every address of `domain`: S = 1 with
  /// address bits 63:12 = 7FFF_FFFF_FFFF_Fh means all pages, PDE = 1 includes the
  /// directory entries (§2.4.3, Table 14).
  public static func invalidatePages(domain: UInt16) -> AMDViCommand {
    AMDViCommand(low: 3 << 60 | UInt64(domain) << 32, high: 0x7FFF_FFFF_FFFF_F000 | 0b11)
  }

  /// INVALIDATE_IOMMU_ALL (08h, §2.4.9), offered when EFR.IASup is set.
  public static let invalidateAll = AMDViCommand(low: 8 << 60, high: 0)
}
