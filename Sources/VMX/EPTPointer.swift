/// The extended-page-table pointer, VMCS field `eptPointer` (SDM 3C §25.6.11): bits 2:0
/// memory type of the paging structures, bits 5:3 page-walk length − 1, bit 6 enables
/// accessed and dirty flags, bits N–1:12 the physical address of the EPT PML4 table.
public struct EPTPointer: Equatable {
  /// The memory types EPTP bits 2:0 allow (IA32_VMX_EPT_VPID_CAP bits 8 and 14 say
  /// which the processor supports, Appendix A.10).
  public enum MemoryType: UInt64, Equatable {
    case uncacheable = 0
    case writeBack = 6
  }

  /// The only page-walk length Peregrine builds (4-level EPT).
  public static let walkLength: UInt64 = 4

  /// Bits 63:12 of a root address are kept; bits 11:0 are the page offset.
  public static let rootMask: UInt64 = 0xFFFF_FFFF_FFFF_F000

  public var value: UInt64

  /// `root` is the 4 KiB-aligned physical address of the PML4 table; its low 12 bits are
  /// ignored.
  public init(root: UInt64, memoryType: MemoryType = .writeBack, accessedDirty: Bool = false) {
    value =
      (root & Self.rootMask) | memoryType.rawValue | ((Self.walkLength - 1) << 3)
      | (accessedDirty ? 1 << 6 : 0)
  }

  public init(rawValue: UInt64) {
    value = rawValue
  }

  public var root: UInt64 { value & Self.rootMask }

  public var memoryType: MemoryType? { MemoryType(rawValue: value & 0x7) }

  /// Bits 5:3 plus one.
  public var pageWalkLength: UInt64 { ((value >> 3) & 0x7) + 1 }

  public var accessedDirtyEnabled: Bool { value & (1 << 6) != 0 }

  /// Whether this processor accepts the pointer: its memory type, a 4-level walk, and A/D
  /// only where IA32_VMX_EPT_VPID_CAP reports them (Appendix A.10).
  public func isSupported(by caps: VMXCapabilities) -> Bool {
    guard let type = memoryType else { return false }
    let typeSupported = type == .writeBack ? caps.writeBackMemoryType : caps.uncacheableMemoryType
    return typeSupported && pageWalkLength == 4 && caps.supports4Level
      && (!accessedDirtyEnabled || caps.accessedDirty)
  }
}
