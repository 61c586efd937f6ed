/// Splitting a large page of the host's own tables, so one 4 KiB page inside it can be
/// unmapped or protected (a stack guard page inside memory mapped with 1 GiB pages).
extension PageTableBuilder where Format == HostPagingFormat {
  /// Replaces the 1 GiB or 2 MiB leaf that maps `virtual` with a table of the next smaller
  /// pages carrying the same translation and attributes, repeatedly, until `virtual` is
  /// mapped by a 4 KiB page. Nothing happens when it already is; an unmapped address throws.
  /// The caller invalidates `virtual` (INVLPG): the other addresses keep their translation,
  /// so a stale large-page TLB entry for them stays correct (SDM 3A §4.10.4.2).
  public mutating func splitLargePages<Frames: FrameSource>(
    containing virtual: UInt64, frames: inout Frames
  ) throws(PageTableError) {
    while let slot = leafSlot(for: virtual), slot.size != .size4K {
      guard let frame = frames.allocateZeroedFrame() else { throw .outOfMemory }
      let table = PageTable(memory: memory, physical: slot.table)
      let entry = table[slot.index]
      let child = PageTable(memory: memory, physical: frame)
      for index in 0..<PageTable<Memory>.entryCount {
        child[index] = Self.childEntry(of: entry, size: slot.size, index: index)
      }
      table[slot.index] = Format.tableEntry(physical: frame)
    }
  }

  /// Entry `index` of the table that replaces the large leaf `entry` of `size`
  /// (`HostPagingFormat.childEntry`).
  static func childEntry(of entry: UInt64, size: PageSize, index: Int) -> UInt64 {
    HostPagingFormat.childEntry(of: entry, size: size, index: index)
  }
}

extension HostPagingFormat {
  /// Entry `index` of the table that replaces the large leaf `entry` of `size`. A large
  /// leaf keeps PAT in bit 12 and sets PS (bit 7); a 4 KiB leaf keeps PAT in bit 7
  /// (SDM 3A §4.5, Tables 4-17, 4-19 and 4-20).
  public static func childEntry(of entry: UInt64, size: PageSize, index: Int) -> UInt64 {
    let pat: UInt64 = 1 << 12
    let largeFrame = entry & physicalAddressMask & ~(size.rawValue - 1)
    let attributes = entry & ~physicalAddressMask  // flags 11:0 and XD, protection keys
    let childSize = size == .size1G ? PageSize.size2M : PageSize.size4K
    let physical = largeFrame + UInt64(index) * childSize.rawValue
    if childSize == .size2M {
      return physical | attributes | (entry & pat)
    }
    var flags = attributes & ~pageSize
    if entry & pat != 0 { flags |= 1 << 7 }
    return physical | flags
  }
}
