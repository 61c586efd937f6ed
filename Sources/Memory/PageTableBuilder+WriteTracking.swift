/// The dirty log's edits of a VM's nested page tables (docs/migration.md): while tracking,
/// every RAM page is mapped by its own 4 KiB leaf, write-protected until the guest first
/// writes it after a snapshot. The caller flushes the guest-physical TLBs of every CPU that
/// runs the VM after protecting (a permission taken away, SDM 3C §29.4.3.3, APM §15.16);
/// giving one back needs no flush: a stale read-only entry only faults again, which the
/// handler answers as it did the first time.
extension PageTableBuilder where Format: WriteTrackableFormat {
  /// Replaces the large leaf that maps `virtual` with a table of smaller pages carrying
  /// the same translation and attributes, repeatedly, until a 4 KiB leaf maps it. Nothing
  /// happens when one already does; an unmapped address throws.
  public mutating func splitToSmallPages<Frames: FrameSource>(
    containing virtual: UInt64, frames: inout Frames
  ) throws(PageTableError) {
    while let slot = leafSlot(for: virtual), slot.size != .size4K {
      guard let frame = frames.allocateZeroedFrame() else { throw .outOfMemory }
      let table = PageTable(memory: memory, physical: slot.table)
      let entry = table[slot.index]
      let child = PageTable(memory: memory, physical: frame)
      for index in 0..<PageTable<Memory>.entryCount {
        child[index] = Format.childEntry(of: entry, size: slot.size, index: index)
      }
      table[slot.index] = Format.tableEntry(physical: frame)
    }
    guard leafSlot(for: virtual) != nil else { throw .notMapped(virtual) }
  }

  /// Splits every large page of `[virtual, virtual + length)` and clears the write right of
  /// each 4 KiB leaf. Frames may run out midway: what was split stays split (the
  /// translations are unchanged) and the caller can call `allowWrites` to undo the rest.
  public mutating func protectForTracking<Frames: FrameSource>(
    virtual: UInt64, length: UInt64, frames: inout Frames
  ) throws(PageTableError) {
    guard try Self.lastAddress(virtual: virtual, length: length) != nil else { return }
    var offset: UInt64 = 0
    while offset < length {
      try splitToSmallPages(containing: virtual + offset, frames: &frames)
      offset += PageSize.size4K.rawValue
    }
    offset = 0
    while offset < length {
      _ = setWritable(virtual + offset, false)
      offset += PageSize.size4K.rawValue
    }
  }

  /// Write-protects the 4 KiB leaf of `virtual` again (a page of a snapshot). False when no
  /// 4 KiB leaf maps it (tracking never split it: not RAM).
  @discardableResult
  public func writeProtect(_ virtual: UInt64) -> Bool { setWritable(virtual, false) }

  /// Gives the 4 KiB leaf of `virtual` its write right back: true when there is such a leaf
  /// (it may have been writable already, when another CPU got there first).
  @discardableResult
  public func allowWrite(_ virtual: UInt64) -> Bool { setWritable(virtual, true) }

  /// Every 4 KiB leaf of `[virtual, virtual + length)` writable again (tracking stops;
  /// the small pages stay).
  public func allowWrites(virtual: UInt64, length: UInt64) {
    var offset: UInt64 = 0
    while offset < length {
      _ = setWritable(virtual + offset, true)
      offset += PageSize.size4K.rawValue
    }
  }

  /// Whether `virtual`'s leaf grants writes (nil: unmapped).
  public func isWritable(_ virtual: UInt64) -> Bool? {
    guard let slot = leafSlot(for: virtual) else { return nil }
    return Format.isWritable(PageTable(memory: memory, physical: slot.table)[slot.index])
  }

  private func setWritable(_ virtual: UInt64, _ writable: Bool) -> Bool {
    guard let slot = leafSlot(for: virtual), slot.size == .size4K else { return false }
    let table = PageTable(memory: memory, physical: slot.table)
    let entry = table[slot.index]
    table[slot.index] = writable ? Format.withWrite(entry) : Format.withoutWrite(entry)
    return true
  }
}
