/// The four page-directory-pointer-table entries of PAE paging (SDM 3A §4.4.1): loaded from
/// the 32-byte table at CR3[31:5] whenever a MOV to CR0, CR3 or CR4 leaves the processor in
/// PAE paging, and used for every walk until the next load. VT-x with EPT takes them from
/// the VMCS guest PDPTE fields at VM entry (SDM 3C §27.3.2.4), so a MOV the hypervisor
/// emulates has to load them as the processor would have.
public struct PAEDirectoryPointers: Equatable {
  public var entry0: UInt64
  public var entry1: UInt64
  public var entry2: UInt64
  public var entry3: UInt64

  public init(_ entry0: UInt64, _ entry1: UInt64, _ entry2: UInt64, _ entry3: UInt64) {
    self.entry0 = entry0
    self.entry1 = entry1
    self.entry2 = entry2
    self.entry3 = entry3
  }

  // Control-register and EFER bits (SDM 3A §2.5, §4.1.1).
  static let pg: UInt64 = 1 << 31
  static let cd: UInt64 = 1 << 30
  static let nw: UInt64 = 1 << 29
  static let pse: UInt64 = 1 << 4
  static let pae: UInt64 = 1 << 5
  static let pge: UInt64 = 1 << 7
  static let smep: UInt64 = 1 << 20
  static let lme: UInt64 = 1 << 8
  static let lma: UInt64 = 1 << 10

  /// PDPTE bits 2:1 and 8:5 are reserved (SDM 3A Table 4-8), as is every address bit from
  /// MAXPHYADDR up, bit 63 included (no XD in a PDPTE).
  static let reservedLowBits: UInt64 = 0x1E6

  /// Whether PAE paging is in use: CR0.PG, CR4.PAE and not IA-32e mode, which turning
  /// paging on with EFER.LME set enters (SDM 3A §4.1.1, Table 4-1).
  public static func pagingInUse(cr0: UInt64, cr4: UInt64, efer: UInt64) -> Bool {
    cr0 & pg != 0 && cr4 & pae != 0 && efer & (lme | lma) == 0
  }

  /// Whether MOV to CR`number` from `old` loads the PDPTEs, given CR0, CR4 and EFER as they
  /// are after it: PAE paging in use afterwards, and the MOV is to CR3 or modifies CR0.CD,
  /// NW or PG, or CR4.PAE, PGE, PSE or SMEP (SDM 3A §4.4.1).
  public static func loadedBy(
    controlRegister number: UInt8, old: UInt64, new: UInt64, cr0: UInt64, cr4: UInt64,
    efer: UInt64
  ) -> Bool {
    guard pagingInUse(cr0: cr0, cr4: cr4, efer: efer) else { return false }
    switch number {
    case 0: return (old ^ new) & (cd | nw | pg) != 0
    case 3: return true
    case 4: return (old ^ new) & (pae | pge | pse | smep) != 0
    default: return false
    }
  }

  /// The four entries at CR3[31:5], or nil when the MOV is #GP(0) instead: an entry is
  /// present (bit 0) with a reserved bit set (SDM 3A §4.4.1, SDM 2B MOV CR). A table that
  /// is not in RAM reads as all ones, as an empty bus does: present and reserved.
  public static func read(
    cr3: UInt64, memory: GuestMemoryMap, physicalAddressBits: UInt8
  ) -> PAEDirectoryPointers? {
    let table = cr3 & 0xFFFF_FFE0
    let bits = physicalAddressBits == 0 || physicalAddressBits > 52 ? 52 : physicalAddressBits
    let reserved = reservedLowBits | ~0 << UInt64(bits)
    func entry(_ index: UInt64) -> UInt64? {
      let value = memory.read64(table + index * 8) ?? ~0
      return value & 1 != 0 && value & reserved != 0 ? nil : value
    }
    guard let entry0 = entry(0), let entry1 = entry(1), let entry2 = entry(2),
      let entry3 = entry(3)
    else { return nil }
    return PAEDirectoryPointers(entry0, entry1, entry2, entry3)
  }
}
