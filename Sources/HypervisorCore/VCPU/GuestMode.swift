/// The guest's execution mode and segment state: what the instruction decoder and the
/// guest page walker need to read the instruction at RIP and the memory it touches.
public struct GuestMode: Equatable {
  public enum Width: Equatable {
    /// Real mode or virtual-8086: 16-bit default operand and address size.
    case real
    /// Protected mode, CS.D = 0.
    case protected16
    /// Protected mode, CS.D = 1.
    case protected32
    /// IA-32e mode with CS.L = 1.
    case long64
  }

  public var width: Width
  public var codeSegmentBase: UInt64
  public var dataSegmentBase: UInt64
  public var extraSegmentBase: UInt64
  /// SS, FS and GS bases: what a segment-override prefix or a BP/SP-based address uses.
  public var stackSegmentBase: UInt64 = 0
  public var fsBase: UInt64 = 0
  public var gsBase: UInt64 = 0
  public var cr0: UInt64
  public var cr3: UInt64
  public var cr4: UInt64
  public var efer: UInt64

  public init(
    width: Width, codeSegmentBase: UInt64 = 0, dataSegmentBase: UInt64 = 0,
    extraSegmentBase: UInt64 = 0, cr0: UInt64 = 0, cr3: UInt64 = 0, cr4: UInt64 = 0,
    efer: UInt64 = 0
  ) {
    self.width = width
    self.codeSegmentBase = codeSegmentBase
    self.dataSegmentBase = dataSegmentBase
    self.extraSegmentBase = extraSegmentBase
    self.cr0 = cr0
    self.cr3 = cr3
    self.cr4 = cr4
    self.efer = efer
  }

  /// CR0.PG (SDM 3A §2.5).
  public var pagingEnabled: Bool { cr0 & (1 << 31) != 0 }

  /// The base a data access through `segment` adds. In 64-bit mode the CS, DS, ES and SS
  /// bases are treated as zero; only FS and GS have one (SDM 3A §3.2.4).
  public func base(of segment: SegmentRegister) -> UInt64 {
    switch segment {
    case .fs: return fsBase
    case .gs: return gsBase
    case _ where width == .long64: return 0
    case .es: return extraSegmentBase
    case .cs: return codeSegmentBase
    case .ss: return stackSegmentBase
    case .ds: return dataSegmentBase
    }
  }
}

/// The six segment registers, as prefixes (SDM Vol 2 §2.1.1) and instructions name them.
public enum SegmentRegister: Equatable {
  case es, cs, ss, ds, fs, gs
}
