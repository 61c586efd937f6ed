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

/// The access rights a translation grants, combined over every paging-structure entry that
/// controls it (SDM Vol 3A §4.6.1, APM Vol 2 §5.6): an access is user-mode allowed and
/// writable only if every level's U/S and R/W flag is 1.
public struct GuestPageRights: Equatable, Sendable {
  /// U/S ANDed over the levels: a user-mode address.
  public var user: Bool
  /// R/W ANDed over the levels.
  public var writable: Bool

  public init(user: Bool, writable: Bool) {
    self.user = user
    self.writable = writable
  }

  /// What paging off grants: no page-level protection.
  public static let unrestricted = GuestPageRights(user: true, writable: true)
}

/// A guest-linear address translated, with the rights of the translation.
public struct GuestTranslation: Equatable, Sendable {
  public var physical: UInt64
  public var rights: GuestPageRights

  public init(physical: UInt64, rights: GuestPageRights) {
    self.physical = physical
    self.rights = rights
  }
}

/// Translates guest-linear to guest-physical addresses by walking the guest's
/// own page tables, e.g. to fetch the instruction behind an MMIO exit.
/// `translate` checks no access rights (the instruction fetch already passed the CPU's);
/// `translateWithRights` reports the U/S and R/W flags it saw, for the emulated data
/// accesses that must honour them. Reserved bits are not checked.
public enum GuestPageWalker {
  static let present: UInt64 = 1 << 0
  static let writable: UInt64 = 1 << 1
  static let user: UInt64 = 1 << 2
  static let pageSize: UInt64 = 1 << 7
  static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

  /// - Parameter read: Reads the entry at a guest-physical address: 64 bits, or
  ///   32 bits zero-extended in `.protected32`; nil if the address is not RAM.
  public static func translate(
    linear: UInt64, cr3: UInt64, mode: GuestPagingMode, read: (UInt64) -> UInt64?
  ) -> UInt64? {
    // The rights accumulate in a value nobody reads here, so the optimizer drops them:
    // the instruction-fetch path walks as before.
    translateWithRights(linear: linear, cr3: cr3, mode: mode, read: read)?.physical
  }

  /// Like `translate`, with the U/S and R/W flags of every level ANDed (SDM Vol 3A §4.6.1).
  /// nil when an entry is not present or not readable.
  @inline(__always)
  public static func translateWithRights(
    linear: UInt64, cr3: UInt64, mode: GuestPagingMode, read: (UInt64) -> UInt64?
  ) -> GuestTranslation? {
    switch mode {
    case .none:
      return GuestTranslation(physical: linear, rights: .unrestricted)
    case .protected32(let pageSizeExtensions):
      return translate32(linear: linear, cr3: cr3, pse: pageSizeExtensions, read: read)
    case .pae:
      return translatePAE(linear: linear, cr3: cr3, read: read)
    case .longMode4Level:
      return translate4Level(linear: linear, cr3: cr3, read: read)
    }
  }

  /// The flags `entry` grants, ANDed into `rights`.
  @inline(__always)
  static func restrict(_ rights: inout GuestPageRights, by entry: UInt64) {
    rights.user = rights.user && entry & user != 0
    rights.writable = rights.writable && entry & writable != 0
  }

  /// 32-bit paging (SDM Vol 3A §4.3): 10-bit directory and table indices.
  @inline(__always)
  static func translate32(
    linear: UInt64, cr3: UInt64, pse: Bool, read: (UInt64) -> UInt64?
  ) -> GuestTranslation? {
    let linear = linear & 0xFFFF_FFFF
    let directory = (cr3 & 0xFFFF_F000) + ((linear >> 22) & 0x3FF) * 4
    guard let pde = read(directory), pde & present != 0 else { return nil }
    var rights = GuestPageRights.unrestricted
    restrict(&rights, by: pde)
    if pse && pde & pageSize != 0 {
      // A 4 MiB page; PSE-36 puts address bits 39:32 in PDE bits 20:13 (Table 4-4).
      let high = ((pde >> 13) & 0xFF) << 32
      return GuestTranslation(
        physical: high | (pde & 0xFFC0_0000) | (linear & 0x3F_FFFF), rights: rights)
    }
    let table = (pde & 0xFFFF_F000) + ((linear >> 12) & 0x3FF) * 4
    guard let pte = read(table), pte & present != 0 else { return nil }
    restrict(&rights, by: pte)
    return GuestTranslation(physical: (pte & 0xFFFF_F000) | (linear & 0xFFF), rights: rights)
  }

  /// PAE paging (SDM Vol 3A §4.4): a 4-entry PDPT at CR3 bits 31:5, then PD and PT.
  /// PAE PDPTEs have no R/W or U/S flag (bits 2:1 are reserved, Table 4-8): they restrict
  /// nothing.
  @inline(__always)
  static func translatePAE(linear: UInt64, cr3: UInt64, read: (UInt64) -> UInt64?)
    -> GuestTranslation?
  {
    let linear = linear & 0xFFFF_FFFF
    let pdpte = (cr3 & 0xFFFF_FFE0) + ((linear >> 30) & 0x3) * 8
    guard let entry = read(pdpte), entry & present != 0 else { return nil }
    return walk(linear: linear, table: entry & addressMask, level: 2, read: read)
  }

  /// 4-level paging (SDM Vol 3A §4.5): PML4 at CR3 bits 51:12.
  @inline(__always)
  static func translate4Level(linear: UInt64, cr3: UInt64, read: (UInt64) -> UInt64?)
    -> GuestTranslation?
  {
    walk(linear: linear, table: cr3 & addressMask, level: 4, read: read)
  }

  /// Walks 64-bit entries from `level` down; PS marks 1 GiB leaves at level 3 and 2 MiB at level 2.
  @inline(__always)
  static func walk(linear: UInt64, table: UInt64, level: Int, read: (UInt64) -> UInt64?)
    -> GuestTranslation?
  {
    var table = table
    var level = level
    var rights = GuestPageRights.unrestricted
    while true {
      let shift = 12 + 9 * UInt64(level - 1)
      let address = table + ((linear >> shift) & 0x1FF) * 8
      guard let entry = read(address), entry & present != 0 else { return nil }
      restrict(&rights, by: entry)
      if level == 1 || ((level == 2 || level == 3) && entry & pageSize != 0) {
        let offsetMask: UInt64 = (1 << shift) - 1
        return GuestTranslation(
          physical: (entry & addressMask & ~offsetMask) | (linear & offsetMask), rights: rights)
      }
      table = entry & addressMask
      level -= 1
    }
  }
}
