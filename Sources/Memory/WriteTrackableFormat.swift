/// A nested-paging format whose leaves the dirty log write-protects (docs/migration.md):
/// AMD's nested tables (APM Vol 2 §15.25.5: the R/W bit of a long-mode entry) and Intel
/// EPT (SDM Vol 3C §29.3.2: bit 1). A write through a leaf without it exits (#NPF with
/// EXITINFO1.RW, or an EPT violation whose qualification has bit 1), and the handler
/// logs the page and sets the bit again.
public protocol WriteTrackableFormat: PageTableFormat {
  static func isWritable(_ entry: UInt64) -> Bool
  static func withoutWrite(_ entry: UInt64) -> UInt64
  static func withWrite(_ entry: UInt64) -> UInt64
  /// Entry `index` of the table that replaces the large leaf `entry` of `size`: the same
  /// rights and memory type for the next smaller page size.
  static func childEntry(of entry: UInt64, size: PageSize, index: Int) -> UInt64
}

extension NestedPagingFormat: WriteTrackableFormat {
  public static func isWritable(_ entry: UInt64) -> Bool {
    entry & HostPagingFormat.writable != 0
  }
  public static func withoutWrite(_ entry: UInt64) -> UInt64 { entry & ~HostPagingFormat.writable }
  public static func withWrite(_ entry: UInt64) -> UInt64 { entry | HostPagingFormat.writable }
  public static func childEntry(of entry: UInt64, size: PageSize, index: Int) -> UInt64 {
    HostPagingFormat.childEntry(of: entry, size: size, index: index)
  }
}

extension ExtendedPageTableFormat: WriteTrackableFormat {
  public static func isWritable(_ entry: UInt64) -> Bool { entry & writable != 0 }
  public static func withoutWrite(_ entry: UInt64) -> UInt64 { entry & ~writable }
  public static func withWrite(_ entry: UInt64) -> UInt64 { entry | writable }
  /// A 2 MiB leaf's children are 4 KiB leaves without bit 7 (ignored there, SDM 3C
  /// Table 29-6, but cleared so the entry reads as what it is); a 1 GiB leaf's children
  /// are 2 MiB leaves that keep it. Memory type, ignore-PAT and rights stay.
  public static func childEntry(of entry: UInt64, size: PageSize, index: Int) -> UInt64 {
    let largeFrame = entry & physicalAddressMask & ~(size.rawValue - 1)
    let attributes = entry & ~physicalAddressMask
    let childSize = size == .size1G ? PageSize.size2M : PageSize.size4K
    let physical = largeFrame + UInt64(index) * childSize.rawValue
    if childSize == .size2M { return physical | attributes }
    return physical | (attributes & ~largePage)
  }
}
