/// The state a vCPU starts in, vendor-neutral: each backend writes it into its VMCB or VMCS.
/// Segment attributes use the packed 12-bit form of the descriptor's attribute bits (type,
/// S, DPL, P in bits 7:0; AVL, L, D/B, G in bits 11:8), which is the VMCB's format
/// (APM Table B-2); VMX access rights move bits 11:8 to 15:12 (SDM 3C Table 25-2).
public struct InitialCPUState: Equatable {
  public struct Segment: Equatable {
    public var selector: UInt16
    public var base: UInt64
    public var limit: UInt32
    public var attributes: UInt16

    public init(selector: UInt16, base: UInt64, limit: UInt32, attributes: UInt16) {
      self.selector = selector
      self.base = base
      self.limit = limit
      self.attributes = attributes
    }

    /// The VMX access-rights encoding of the same attributes.
    public var vmxAccessRights: UInt32 {
      UInt32(attributes & 0xFF) | UInt32(attributes & 0xF00) << 4
    }
  }

  public var code: Segment
  public var data: Segment
  public var gdtBase: UInt64 = 0
  public var gdtLimit: UInt32 = 0xFFFF
  public var cr0: UInt64
  public var cr3: UInt64 = 0
  public var cr4: UInt64 = 0
  public var efer: UInt64 = 0
  public var rip: UInt64
  public var rsi: UInt64 = 0
  /// EAX and EBX at a multiboot entry: the loader's magic and the information's address.
  public var rax: UInt64 = 0
  public var rbx: UInt64 = 0
  public var rflags: UInt64 = 0x2

  public init(code: Segment, data: Segment, cr0: UInt64, rip: UInt64) {
    self.code = code
    self.data = data
    self.cr0 = cr0
    self.rip = rip
  }

  /// Real mode at `segment:offset`, as after reset (CR0.ET), with flat 64 KiB data segments.
  public static func realMode(segment: UInt16, offset: UInt16) -> InitialCPUState {
    InitialCPUState(
      code: Segment(selector: segment, base: UInt64(segment) << 4, limit: 0xFFFF, attributes: 0x9B),
      data: Segment(selector: 0, base: 0, limit: 0xFFFF, attributes: 0x93), cr0: 0x10,
      rip: UInt64(offset))
  }

  /// Where a start-up IPI with `vector` starts a processor waiting for SIPI (SDM 3A §9.4.3,
  /// §8.4.4): real mode at vector:0000, i.e. CS.selector = vector << 8, CS.base =
  /// vector << 12, RIP = 0, with the rest as after INIT (§9.1.4, Table 9-1), except that
  /// CR0.CD and NW stay clear, as for every vCPU's reset state here (`realMode`).
  public static func startup(vector: UInt8) -> InitialCPUState {
    realMode(segment: UInt16(vector) << 8, offset: 0)
  }

  /// 32-bit protected mode at a multiboot entry (Multiboot 0.6.96 §3.2, Multiboot2 2.0
  /// §3.3): CS a flat 4 GiB 32-bit code segment, the data segments flat 4 GiB, CR0.PE set and
  /// PG clear, interrupts off (EFLAGS.IF clear), EAX the magic, EBX the information's address.
  /// Selectors 0x08 and 0x10 match the GDT at `gdtBase` the loader writes.
  public static func multiboot(entry: UInt64, magic: UInt32, information: UInt64, gdtBase: UInt64)
    -> InitialCPUState
  {
    var state = InitialCPUState(
      code: Segment(selector: 0x08, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC9B),
      data: Segment(selector: 0x10, base: 0, limit: 0xFFFF_FFFF, attributes: 0xC93),
      cr0: 0x11, rip: entry)
    state.rax = UInt64(magic)
    state.rbx = information
    state.gdtBase = gdtBase
    state.gdtLimit = 23
    return state
  }

  /// CR0.PE: the vCPU starts in protected mode (a multiboot or Linux entry).
  public var isProtectedMode: Bool { cr0 & 1 != 0 }

  public var isLongMode: Bool { efer & (1 << 10) != 0 }
}
