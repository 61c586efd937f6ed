/// A 256-bit AMD-Vi device table entry (AMD IOMMU spec #48882 rev 3.x §2.2.2.1), one per
/// requester id (bus << 8 | devfn) at `id * 32` in the device table, as four quadwords.
public struct AMDViDeviceTableEntry: Equatable, Sendable {
  public var quads: (UInt64, UInt64, UInt64, UInt64)

  public init(_ q0: UInt64, _ q1: UInt64, _ q2: UInt64 = 0, _ q3: UInt64 = 0) {
    quads = (q0, q1, q2, q3)
  }

  public static func == (a: Self, b: Self) -> Bool {
    a.quads.0 == b.quads.0 && a.quads.1 == b.quads.1 && a.quads.2 == b.quads.2
      && a.quads.3 == b.quads.3
  }

  static let valid: UInt64 = 1 << 0
  static let translationValid: UInt64 = 1 << 1
  static let modeShift: UInt64 = 9
  static let rootMask: UInt64 = 0x000F_FFFF_FFFF_F000
  static let readable: UInt64 = 1 << 61
  static let writable: UInt64 = 1 << 62

  /// V = 0: the IOMMU neither translates nor checks the device's DMA (§2.2.2.1, Table 7):
  /// the node's own devices stay untranslated with the IOMMU enabled.
  public static let passThrough = AMDViDeviceTableEntry(0, 0)

  /// V = 1, TV = 1, Mode = 0, IR = IW = 0: every DMA of the device is refused; IV = 1 with
  /// IntCtl = 00b and no table: every interrupt message of it is target-aborted too.
  public static let blocked = AMDViDeviceTableEntry(valid | translationValid, 0, 1)

  /// V = 1, TV = 1, Mode = 0, IR = IW = 1: DMA passes untranslated with reads and writes
  /// allowed, as with V = 0, but the entry is valid, so its interrupt fields (quad 2) are
  /// honoured: the node's own devices when their MSIs are remapped.
  public static let untranslated = AMDViDeviceTableEntry(
    valid | translationValid | readable | writable, 0)

  /// What a device's DTE becomes when its domain is detached: the node's own devices (its
  /// NICs, lent to `iommu=selftest`) go back to untranslated DMA (with their interrupt
  /// table, if they have one, else V = 0); any other (a VM's function, ended or never
  /// started) to `blocked`, since V = 0 would let it DMA untranslated into host memory until
  /// its reset, and after it if the reset does not stop it. VT-d needs no such choice: a
  /// cleared context entry blocks (docs/iommu.md).
  public static func afterDetach(nodeDevice: Bool, interruptTable: UInt64? = nil)
    -> AMDViDeviceTableEntry
  {
    guard nodeDevice else { return .blocked }
    return interruptTable.map { untranslated.remappingInterrupts(table: $0) } ?? .passThrough
  }

  /// Translation through host I/O page tables: V, TV, Mode (bits 11:9) = `levels` (4 for a
  /// 48-bit table), the root (51:12), IR (61) and IW (62) so the leaves decide, DomainID
  /// (bits 79:64) for IOTLB tagging. Interrupt fields (quad 2) stay 0: IV = 0 passes MSIs
  /// unremapped; `remappingInterrupts(table:)` fills them.
  public static func translated(root: UInt64, levels: Int, domain: UInt16)
    -> AMDViDeviceTableEntry
  {
    AMDViDeviceTableEntry(
      valid | translationValid | UInt64(levels) << modeShift | (root & rootMask) | readable
        | writable, UInt64(domain))
  }

  public var isValid: Bool { quads.0 & Self.valid != 0 }
  public var translates: Bool { quads.0 & Self.translationValid != 0 }
  public var mode: Int { Int(quads.0 >> Self.modeShift & 7) }
  public var root: UInt64 { quads.0 & Self.rootMask }
  public var domain: UInt16 { UInt16(truncatingIfNeeded: quads.1) }
  public var allowsRead: Bool { quads.0 & Self.readable != 0 }
  public var allowsWrite: Bool { quads.0 & Self.writable != 0 }
}
