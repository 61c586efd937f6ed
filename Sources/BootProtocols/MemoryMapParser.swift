/// Decodes and validates the memory map tag (Multiboot2 spec §3.6.8):
/// u32 entry_size, u32 entry_version, then entries of u64 base_addr,
/// u64 length, u32 type, u32 reserved.
enum MemoryMapParser {
  /// Bytes of the tag before the first entry: tag header plus entry_size and entry_version.
  static let entriesOffset = 16
  /// The spec's entry is 24 bytes; later versions may append fields, so larger sizes are allowed.
  static let minimumEntrySize: UInt32 = 24

  static func parse(_ tag: Multiboot2.Tag, reader: ByteReader) throws(Multiboot2Error)
    -> [MemoryRegion]
  {
    try tag.require(bodyBytes: entriesOffset - Multiboot2.headerSize)
    let entrySize = reader.u32(at: tag.bodyStart)
    guard entrySize >= minimumEntrySize, entrySize % 8 == 0 else {
      throw .memoryMapEntrySizeInvalid(entrySize)
    }
    let entryBytes = tag.size - entriesOffset
    guard entryBytes % Int(entrySize) == 0 else {
      throw .memoryMapTruncated(declaredBytes: UInt32(entryBytes), entrySize: entrySize)
    }

    var regions: [MemoryRegion] = []
    var offset = tag.offset + entriesOffset
    while offset < tag.end {
      let base = reader.u64(at: offset)
      let length = reader.u64(at: offset + 8)
      let (end, wrapped) = base.addingReportingOverflow(length)
      guard length != 0, !wrapped else { throw .memoryMapEmptyEntry(index: regions.count) }
      regions.append(
        MemoryRegion(
          range: PhysicalRange(start: base, end: end),
          kind: MemoryRegionKind(rawType: reader.u32(at: offset + 16))))
      offset += Int(entrySize)
    }
    return try normalized(regions)
  }

  /// Sorts by start and merges overlapping entries of the same kind; overlapping
  /// entries of different kinds are ambiguous, so they are rejected.
  static func normalized(_ input: [MemoryRegion]) throws(Multiboot2Error) -> [MemoryRegion] {
    // Insertion sort: maps have a few dozen entries and the kernel wants no extra machinery.
    var sorted = input
    var index = 1
    while index < sorted.count {
      let item = sorted[index]
      var hole = index
      while hole > 0 && sorted[hole - 1].range.start > item.range.start {
        sorted[hole] = sorted[hole - 1]
        hole -= 1
      }
      sorted[hole] = item
      index += 1
    }

    var result: [MemoryRegion] = []
    for region in sorted {
      if let last = result.last, last.range.overlaps(region.range) {
        guard last.kind == region.kind else {
          throw .memoryMapOverlap(first: last.range, second: region.range)
        }
        result[result.count - 1].range.end = max(last.range.end, region.range.end)
      } else {
        result.append(region)
      }
    }
    return result
  }
}
