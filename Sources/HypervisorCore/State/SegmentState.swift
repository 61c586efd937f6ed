/// One segment register as the processor holds it: the visible selector and the hidden
/// descriptor cache (base, limit, attributes) that VMRUN/VMLOAD and VM entry load
/// (SDM 3A §3.4.3; APM Vol 2 §4.5).
public struct SegmentState: Equatable {
  public var selector: UInt16
  public var base: UInt64
  /// The expanded byte limit (G already applied), as both vendors store it.
  public var limit: UInt32
  public var attributes: SegmentAttributes

  public init(selector: UInt16, base: UInt64, limit: UInt32, attributes: SegmentAttributes) {
    self.selector = selector
    self.base = base
    self.limit = limit
    self.attributes = attributes
  }
}

/// A segment's attributes in the descriptor's own order: bits 7:0 are descriptor bits
/// 47:40 (type 3:0, S 4, DPL 6:5, P 7), bits 11:8 are descriptor bits 55:52 (AVL 8, L 9,
/// D/B 10, G 11) (SDM 3A §3.4.5, Figure 3-8). SVM's VMCB packs them exactly so (APM Vol 2
/// §15.5.1, "Segment State in the VMCB"); VMX's access rights put bits 11:8 at 15:12 and
/// add "unusable" at bit 16 (SDM 3C §25.4.1, Table 25-2). A segment VMX marks unusable is
/// held here as not present (P = 0): VM entry requires P = 1 of every usable segment
/// (SDM 3C §27.3.1.2), so the two say the same.
public struct SegmentAttributes: Equatable {
  /// Only bits 11:0 are kept.
  public let rawValue: UInt16

  public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

  public var type: UInt8 { UInt8(rawValue & 0xF) }
  /// S: a code or data segment (1), or a system segment (0).
  public var isCodeOrData: Bool { rawValue & (1 << 4) != 0 }
  public var privilegeLevel: UInt8 { UInt8((rawValue >> 5) & 3) }
  public var isPresent: Bool { rawValue & (1 << 7) != 0 }
  /// L: 64-bit code segment.
  public var isLongMode: Bool { rawValue & (1 << 9) != 0 }
  /// D/B: 32-bit default operand size.
  public var isDefaultBig: Bool { rawValue & (1 << 10) != 0 }
  public var isPageGranular: Bool { rawValue & (1 << 11) != 0 }

  public static let presentBit: UInt16 = 1 << 7
}

/// GDTR or IDTR: a linear base and a 16-bit limit (SDM 3A §2.4.1, §2.4.3).
public struct DescriptorTableState: Equatable {
  public var base: UInt64
  public var limit: UInt16

  public init(base: UInt64, limit: UInt16) {
    self.base = base
    self.limit = limit
  }
}
