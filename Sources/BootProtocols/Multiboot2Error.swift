/// Why a Multiboot2 information block was rejected. The kernel cannot boot
/// safely on a memory map it does not trust, so every inconsistency is fatal.
public enum Multiboot2Error: Error, Equatable {
  /// Fewer than the 8 bytes of the fixed part (Multiboot2 spec §3.6.2).
  case truncatedHeader
  /// `total_size` is smaller than the fixed part or larger than the bytes available.
  case totalSizeMismatch(declared: UInt32, available: UInt32)
  /// The block does not start on the 8-byte boundary that §3.6.2 guarantees for every tag.
  case misalignedTag(offset: UInt32)
  /// A tag's `size` runs past `total_size`.
  case tagOverrunsBlock(type: UInt32, offset: UInt32, size: UInt32)
  /// A tag's `size` is too small for its header or its fixed fields.
  case tagTooShort(type: UInt32, offset: UInt32, size: UInt32)
  /// No tag of type 0 terminates the block.
  case missingEndTag
  /// No tag of type 6, or one with no entries; without it the kernel cannot know which RAM
  /// is free.
  case missingMemoryMap
  /// `entry_size` is below 24 or not a multiple of 8 (§3.6.8).
  case memoryMapEntrySizeInvalid(UInt32)
  /// The tag size minus its 16-byte header is not a multiple of `entry_size`.
  case memoryMapTruncated(declaredBytes: UInt32, entrySize: UInt32)
  /// Two entries of different kinds claim the same bytes.
  case memoryMapOverlap(first: PhysicalRange, second: PhysicalRange)
  /// An entry has zero length or `base + length` wraps past 2^64.
  case memoryMapEmptyEntry(index: Int)
  /// A module's `mod_end` lies below its `mod_start`.
  case moduleInvalid(index: Int)
  /// A string-carrying tag has no NUL inside its declared size.
  case stringNotTerminated(tagType: UInt32)

  /// A one-line description for the boot console.
  public var message: StaticString {
    switch self {
    case .truncatedHeader: "multiboot2 information block is shorter than its header"
    case .totalSizeMismatch: "multiboot2 total_size does not match the available bytes"
    case .misalignedTag: "multiboot2 tag is not 8-byte aligned"
    case .tagOverrunsBlock: "multiboot2 tag runs past the end of the block"
    case .tagTooShort: "multiboot2 tag is too short for its fields"
    case .missingEndTag: "multiboot2 information block has no end tag"
    case .missingMemoryMap: "multiboot2 information block has no memory map"
    case .memoryMapEntrySizeInvalid: "multiboot2 memory map entry size is invalid"
    case .memoryMapTruncated: "multiboot2 memory map is truncated"
    case .memoryMapOverlap: "multiboot2 memory map has overlapping entries of different kinds"
    case .memoryMapEmptyEntry: "multiboot2 memory map entry is empty or wraps"
    case .moduleInvalid: "multiboot2 module ends before it starts"
    case .stringNotTerminated: "multiboot2 string is not NUL-terminated"
    }
  }
}
