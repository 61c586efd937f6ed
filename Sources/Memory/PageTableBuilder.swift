/// Builds and edits x86-64 4-level page tables in any `PageTableFormat`: the
/// host's own tables, AMD nested tables or Intel EPT.
///
/// Empty tables are never reclaimed (`FrameSource` has no way back); the
/// hypervisor's address spaces are built once and rarely shrink.
/// TLB invalidation after a change is the caller's responsibility.
public struct PageTableBuilder<Format: PageTableFormat, Memory: PhysicalMemoryAccess> {
  /// Physical address of the PML4: the value for CR3, nCR3 or the EPTP base.
  public let root: UInt64
  let memory: Memory

  /// Index bits cover 48 bits of address; the bits above are a sign extension
  /// (SDM Vol 3A §3.3.7.1), so every operation stays inside one such window.
  static var windowMask: UInt64 { ~((1 << 48) - 1) }

  public init<Frames: FrameSource>(memory: Memory, frames: inout Frames) throws(PageTableError) {
    guard let root = frames.allocateZeroedFrame() else { throw .outOfMemory }
    self.init(memory: memory, existingRoot: root)
  }

  public init(memory: Memory, existingRoot: UInt64) {
    self.memory = memory
    self.root = existingRoot
  }

  /// Maps `[virtual, virtual + length)` to `[physical, physical + length)` using
  /// the largest pages, up to `largestPage`, that the alignment of both addresses
  /// and the remaining length allow. Checks for conflicts before writing, so a
  /// failed call changes nothing unless frames run out midway.
  public mutating func map<Frames: FrameSource>(
    virtual: UInt64, physical: UInt64, length: UInt64, permissions: PagePermissions,
    memoryType: MemoryType = .writeBack, largestPage: PageSize = .size2M, frames: inout Frames
  ) throws(PageTableError) {
    let last = try Self.lastAddress(virtual: virtual, length: length)
    guard let last else { return }
    let (physicalLast, wraps) = physical.addingReportingOverflow(length - 1)
    guard Alignment.isAligned(physical, to: PageSize.size4K.rawValue), !wraps,
      physicalLast & ~physicalAddressMask & ~0xFFF == 0
    else { throw .misaligned }
    if let conflict = firstMapped(from: virtual, through: last) {
      throw .alreadyMapped(conflict)
    }

    var offset: UInt64 = 0
    while offset < length {
      let size = try mapPage(
        virtual: virtual + offset, physical: physical + offset, remaining: length - offset,
        permissions: permissions, memoryType: memoryType, largestPage: largestPage,
        frames: &frames)
      offset += size.rawValue
    }
  }

  /// Removes the pages covering `[virtual, virtual + length)`. Splitting a large
  /// page is not supported: a range that covers only part of one throws
  /// `.misaligned`. Validates the whole range before clearing anything.
  public mutating func unmap(virtual: UInt64, length: UInt64) throws(PageTableError) {
    guard try Self.lastAddress(virtual: virtual, length: length) != nil else { return }
    var offset: UInt64 = 0
    while offset < length {
      let address = virtual + offset
      guard let slot = leafSlot(for: address) else { throw .notMapped(address) }
      let size = slot.size.rawValue
      guard Alignment.isAligned(address, to: size), length - offset >= size else {
        throw .misaligned
      }
      offset += size
    }
    offset = 0
    while offset < length {
      // The first pass proved every page present.
      guard let slot = leafSlot(for: virtual + offset) else { throw .notMapped(virtual + offset) }
      PageTable(memory: memory, physical: slot.table)[slot.index] = 0
      offset += slot.size.rawValue
    }
  }

  /// The physical address, rights and page size that `virtual` maps to, or nil.
  public func translate(_ virtual: UInt64) -> (
    physical: UInt64, permissions: PagePermissions, size: PageSize
  )? {
    guard let slot = leafSlot(for: virtual) else { return nil }
    let entry = PageTable(memory: memory, physical: slot.table)[slot.index]
    let offsetMask = slot.size.rawValue - 1
    let frame = Format.address(of: entry) & ~offsetMask  // Large leaves keep PAT in bit 12.
    return (frame | (virtual & offsetMask), Format.permissions(of: entry), slot.size)
  }

  /// Counts tables (including the root) and leaves of each size by walking the tree.
  public func statistics() -> (tables: Int, pages4K: Int, pages2M: Int, pages1G: Int) {
    var counts = (tables: 0, pages4K: 0, pages2M: 0, pages1G: 0)
    count(table: root, level: 4, into: &counts)
    return counts
  }

  // MARK: - Walking

  /// The inclusive last address of a request, nil for an empty one.
  static func lastAddress(virtual: UInt64, length: UInt64) throws(PageTableError) -> UInt64? {
    let pageMask = PageSize.size4K.rawValue - 1
    guard virtual & pageMask == 0, length & pageMask == 0 else { throw .misaligned }
    guard length > 0 else { return nil }
    let (last, wraps) = virtual.addingReportingOverflow(length - 1)
    guard !wraps, last & windowMask == virtual & windowMask else { throw .misaligned }
    return last
  }

  /// Writes one leaf for `virtual`, creating tables on the way, and returns its size.
  mutating func mapPage<Frames: FrameSource>(
    virtual: UInt64, physical: UInt64, remaining: UInt64, permissions: PagePermissions,
    memoryType: MemoryType, largestPage: PageSize, frames: inout Frames
  ) throws(PageTableError) -> PageSize {
    var tableAddress = root
    var level = 4
    while true {
      let table = PageTable(memory: memory, physical: tableAddress)
      let index = PageTable<Memory>.index(of: virtual, level: level)
      let entry = table[index]
      // A leaf goes at the highest level whose page fits; an existing table there
      // (left by an earlier, smaller mapping) makes the walk descend instead.
      if !Format.isPresent(entry), let size = PageSize(level: level),
        size.rawValue <= largestPage.rawValue, remaining >= size.rawValue,
        Alignment.isAligned(virtual | physical, to: size.rawValue)
      {
        table[index] = Format.leafEntry(
          physical: physical, size: size, permissions: permissions, memoryType: memoryType)
        return size
      }
      if Format.isPresent(entry) {
        guard !Format.isLeaf(entry, level: level) else { throw .alreadyMapped(virtual) }
        tableAddress = Format.address(of: entry)
      } else {
        guard let frame = frames.allocateZeroedFrame() else { throw .outOfMemory }
        table[index] = Format.tableEntry(physical: frame, pointingAtLevel: level - 1)
        tableAddress = frame
      }
      level -= 1
    }
  }

  /// The table and index of the leaf mapping `virtual`, with its page size.
  func leafSlot(for virtual: UInt64) -> (table: UInt64, index: Int, size: PageSize)? {
    var tableAddress = root
    var level = 4
    while level >= 1 {
      let index = PageTable<Memory>.index(of: virtual, level: level)
      let entry = PageTable(memory: memory, physical: tableAddress)[index]
      guard Format.isPresent(entry) else { return nil }
      if Format.isLeaf(entry, level: level), let size = PageSize(level: level) {
        return (tableAddress, index, size)
      }
      tableAddress = Format.address(of: entry)
      level -= 1
    }
    return nil
  }

  /// The lowest address in `[first, last]` that is already mapped, visiting only present entries.
  func firstMapped(from first: UInt64, through last: UInt64) -> UInt64? {
    firstMapped(
      inTable: root, level: 4, tableBase: first & Self.windowMask, first: first, last: last)
  }

  private func firstMapped(
    inTable tableAddress: UInt64, level: Int, tableBase: UInt64, first: UInt64, last: UInt64
  ) -> UInt64? {
    let shift = PageTable<Memory>.shift(level: level)
    let tableLast = tableBase + ((1 << (shift + 9)) - 1)
    let low = PageTable<Memory>.index(of: max(first, tableBase), level: level)
    let high = PageTable<Memory>.index(of: min(last, tableLast), level: level)
    let table = PageTable(memory: memory, physical: tableAddress)
    for index in low...high {
      let entry = table[index]
      guard Format.isPresent(entry) else { continue }
      let entryBase = tableBase + UInt64(index) << shift
      if Format.isLeaf(entry, level: level) { return max(entryBase, first) }
      if let hit = firstMapped(
        inTable: Format.address(of: entry), level: level - 1, tableBase: entryBase, first: first,
        last: last)
      {
        return hit
      }
    }
    return nil
  }

  private func count(
    table tableAddress: UInt64, level: Int,
    into counts: inout (tables: Int, pages4K: Int, pages2M: Int, pages1G: Int)
  ) {
    counts.tables += 1
    let table = PageTable(memory: memory, physical: tableAddress)
    for index in 0..<PageTable<Memory>.entryCount {
      let entry = table[index]
      guard Format.isPresent(entry) else { continue }
      if Format.isLeaf(entry, level: level) {
        switch PageSize(level: level) {
        case .size4K: counts.pages4K += 1
        case .size2M: counts.pages2M += 1
        case .size1G: counts.pages1G += 1
        case nil: break
        }
      } else {
        count(table: Format.address(of: entry), level: level - 1, into: &counts)
      }
    }
  }
}
