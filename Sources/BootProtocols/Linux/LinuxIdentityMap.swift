/// Page tables identity-mapping guest-physical [0, 4 GiB) with 2 MiB pages, for the
/// 64-bit entry: "the range with setup_header.init_size from start address of loaded kernel
/// and zero page and command line buffer get ident mapping" (boot.rst, "64-bit Boot Protocol").
///
/// One PML4 page, one PDPT page and four page directories, contiguous from the PML4
/// (Intel SDM Vol. 3A §4.5, 4-level paging).
public enum LinuxIdentityMap {
  /// Page directories, one per GiB mapped.
  public static let directoryCount = 4
  /// PML4 + PDPT + page directories.
  public static let pageCount = 2 + directoryCount
  public static let size = pageCount * pageSize
  static let pageSize = 0x1000
  static let entriesPerTable = 512
  static let present: UInt64 = 1 << 0
  static let writable: UInt64 = 1 << 1
  /// PS in a page-directory entry: the entry maps a 2 MiB page.
  static let largePage: UInt64 = 1 << 7
  static let largePageSize: UInt64 = 0x20_0000

  /// The tables' bytes for a PML4 at `base` (page aligned), to copy to `base`.
  public static func bytes(at base: UInt64) -> [UInt8] {
    var tables = [UInt8](repeating: 0, count: size)
    let pdpt = base + UInt64(pageSize)
    tables.storeLittleEndian(pdpt | present | writable, at: 0)
    for directory in 0..<directoryCount {
      let directoryAddress = pdpt + UInt64(pageSize * (1 + directory))
      tables.storeLittleEndian(directoryAddress | present | writable, at: pageSize + 8 * directory)
      for entry in 0..<entriesPerTable {
        let page = UInt64(directory * entriesPerTable + entry) * largePageSize
        let offset = pageSize * (2 + directory) + 8 * entry
        tables.storeLittleEndian(page | present | writable | largePage, at: offset)
      }
    }
    return tables
  }
}
