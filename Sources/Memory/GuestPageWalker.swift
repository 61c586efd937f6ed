/// The paging mode of a guest, from its CR0.PG, CR4.PAE/PSE and EFER.LMA.
public enum GuestPagingMode: Equatable, Sendable {
  /// Paging disabled: linear addresses are physical.
  case none
  /// 32-bit paging, two levels (Intel SDM Vol 3A §4.3); 4 MiB pages only when CR4.PSE is set.
  case protected32(pageSizeExtensions: Bool)
  /// PAE paging, three levels (SDM Vol 3A §4.4).
  case pae
  /// IA-32e 4-level paging (SDM Vol 3A §4.5).
  case longMode4Level
}

/// Translates guest-linear to guest-physical addresses by walking the guest's
/// own page tables, e.g. to fetch the instruction behind an MMIO exit.
/// Access rights and reserved bits are not checked: the caller only needs the
/// address the guest's CPU already used.
public enum GuestPageWalker {
  static let present: UInt64 = 1 << 0
  static let pageSize: UInt64 = 1 << 7
  static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

  /// - Parameter read: Reads the entry at a guest-physical address: 64 bits, or
  ///   32 bits zero-extended in `.protected32`; nil if the address is not RAM.
  public static func translate(
    linear: UInt64, cr3: UInt64, mode: GuestPagingMode, read: (UInt64) -> UInt64?
  ) -> UInt64? {
    switch mode {
    case .none:
      return linear
    case .protected32(let pageSizeExtensions):
      return translate32(linear: linear, cr3: cr3, pse: pageSizeExtensions, read: read)
    case .pae:
      return translatePAE(linear: linear, cr3: cr3, read: read)
    case .longMode4Level:
      return translate4Level(linear: linear, cr3: cr3, read: read)
    }
  }

  /// 32-bit paging (SDM Vol 3A §4.3): 10-bit directory and table indices.
  static func translate32(
    linear: UInt64, cr3: UInt64, pse: Bool, read: (UInt64) -> UInt64?
  ) -> UInt64? {
    let linear = linear & 0xFFFF_FFFF
    let directory = (cr3 & 0xFFFF_F000) + ((linear >> 22) & 0x3FF) * 4
    guard let pde = read(directory), pde & present != 0 else { return nil }
    if pse && pde & pageSize != 0 {
      // A 4 MiB page; PSE-36 puts address bits 39:32 in PDE bits 20:13 (Table 4-4).
      let high = ((pde >> 13) & 0xFF) << 32
      return high | (pde & 0xFFC0_0000) | (linear & 0x3F_FFFF)
    }
    let table = (pde & 0xFFFF_F000) + ((linear >> 12) & 0x3FF) * 4
    guard let pte = read(table), pte & present != 0 else { return nil }
    return (pte & 0xFFFF_F000) | (linear & 0xFFF)
  }

  /// PAE paging (SDM Vol 3A §4.4): a 4-entry PDPT at CR3 bits 31:5, then PD and PT.
  static func translatePAE(linear: UInt64, cr3: UInt64, read: (UInt64) -> UInt64?) -> UInt64? {
    let linear = linear & 0xFFFF_FFFF
    let pdpte = (cr3 & 0xFFFF_FFE0) + ((linear >> 30) & 0x3) * 8
    guard let entry = read(pdpte), entry & present != 0 else { return nil }
    return walk(linear: linear, table: entry & addressMask, level: 2, read: read)
  }

  /// 4-level paging (SDM Vol 3A §4.5): PML4 at CR3 bits 51:12.
  static func translate4Level(linear: UInt64, cr3: UInt64, read: (UInt64) -> UInt64?) -> UInt64? {
    walk(linear: linear, table: cr3 & addressMask, level: 4, read: read)
  }

  /// Walks 64-bit entries from `level` down; PS marks 1 GiB leaves at level 3 and 2 MiB at level 2.
  static func walk(linear: UInt64, table: UInt64, level: Int, read: (UInt64) -> UInt64?)
    -> UInt64?
  {
    var table = table
    var level = level
    while true {
      let shift = 12 + 9 * UInt64(level - 1)
      let address = table + ((linear >> shift) & 0x1FF) * 8
      guard let entry = read(address), entry & present != 0 else { return nil }
      if level == 1 || ((level == 2 || level == 3) && entry & pageSize != 0) {
        let offsetMask: UInt64 = (1 << shift) - 1
        return (entry & addressMask & ~offsetMask) | (linear & offsetMask)
      }
      table = entry & addressMask
      level -= 1
    }
  }
}
