/// Parser for the boot information block a Multiboot2 boot loader hands over
/// in EBX (Multiboot2 spec 1.0, §3.6).
public enum Multiboot2 {
  /// Tag types used by the hypervisor (Multiboot2 spec §3.6.2 and the tag sections that follow).
  enum TagType {
    static let end: UInt32 = 0
    static let commandLine: UInt32 = 1
    static let bootLoaderName: UInt32 = 2
    static let module: UInt32 = 3
    static let memoryMap: UInt32 = 6
    static let rsdpV1: UInt32 = 14
    static let rsdpV2: UInt32 = 15
  }

  /// Size of the fixed part and of every tag header (§3.6.2).
  static let headerSize = 8
  /// Tags start on 8-byte boundaries (§3.6.2).
  static let tagAlignment = 8

  /// Parses the information block that GRUB hands over in EBX.
  ///
  /// - Parameters:
  ///   - bytes: The whole block; the kernel builds it from the physical address
  ///     and the `total_size` field, tests pass fixtures.
  ///   - physicalAddress: Where the block lives, used for RSDP addresses and `infoRange`.
  public static func parse(
    _ bytes: UnsafeRawBufferPointer, physicalAddress: UInt64
  ) throws(Multiboot2Error) -> BootInformation {
    guard bytes.count >= headerSize else { throw .truncatedHeader }
    let reader = ByteReader(bytes: bytes)
    let totalSize = reader.u32(at: 0)
    let available = UInt32(clamping: bytes.count)
    guard totalSize >= UInt32(headerSize), totalSize <= available else {
      throw .totalSizeMismatch(declared: totalSize, available: available)
    }
    // §3.6.2: the block starts 8-byte aligned, so the first tag at offset 8 is too.
    guard physicalAddress % UInt64(tagAlignment) == 0 else {
      throw .misalignedTag(offset: UInt32(headerSize))
    }

    var info = BootInformation(
      totalSize: totalSize, commandLine: [], bootLoaderName: [], memoryMap: [], modules: [],
      rsdp: nil,
      infoRange: PhysicalRange(start: physicalAddress, end: physicalAddress + UInt64(totalSize)))
    var memoryMap: [MemoryRegion]? = nil
    var rsdpV1: RSDP? = nil
    var rsdpV2: RSDP? = nil
    var sawEnd = false

    let limit = Int(totalSize)
    var offset = headerSize
    while offset + headerSize <= limit {
      let tag = Tag(
        type: reader.u32(at: offset), offset: offset, size: Int(reader.u32(at: offset + 4)))
      guard tag.size >= headerSize else {
        throw .tagTooShort(type: tag.type, offset: UInt32(offset), size: UInt32(tag.size))
      }
      guard tag.size <= limit - offset else {
        throw .tagOverrunsBlock(type: tag.type, offset: UInt32(offset), size: UInt32(tag.size))
      }
      switch tag.type {
      case TagType.end:
        sawEnd = true
      case TagType.commandLine:
        info.commandLine = try string(in: tag, reader: reader)
      case TagType.bootLoaderName:
        info.bootLoaderName = try string(in: tag, reader: reader)
      case TagType.module:
        info.modules.append(try module(in: tag, index: info.modules.count, reader: reader))
      case TagType.memoryMap:
        // Only the first map counts; GRUB never emits two.
        if memoryMap == nil { memoryMap = try MemoryMapParser.parse(tag, reader: reader) }
      case TagType.rsdpV1:
        rsdpV1 = try rsdp1(in: tag, reader: reader, base: physicalAddress)
      case TagType.rsdpV2:
        rsdpV2 = try rsdp2(in: tag, reader: reader, base: physicalAddress)
      default:
        break  // Tags the hypervisor does not need are skipped, as §3.6 allows.
      }
      if sawEnd { break }
      offset += (tag.size + tagAlignment - 1) & ~(tagAlignment - 1)
    }

    guard sawEnd else { throw .missingEndTag }
    // A map tag with no entries says no more than a missing one (found by fuzzing).
    guard let memoryMap, !memoryMap.isEmpty else { throw .missingMemoryMap }
    info.memoryMap = memoryMap
    info.rsdp = rsdpV2 ?? rsdpV1
    return info
  }

  /// Boot command line / boot loader name (§3.6.5, §3.6.9): a NUL-terminated string after the header.
  static func string(in tag: Tag, reader: ByteReader) throws(Multiboot2Error) -> [UInt8] {
    guard let text = reader.cString(from: tag.bodyStart, to: tag.end) else {
      throw .stringNotTerminated(tagType: tag.type)
    }
    return text
  }

  /// Module tag (§3.6.6): u32 mod_start, u32 mod_end, NUL-terminated string.
  static func module(in tag: Tag, index: Int, reader: ByteReader) throws(Multiboot2Error)
    -> BootModule
  {
    try tag.require(bodyBytes: 8)
    let start = UInt64(reader.u32(at: tag.bodyStart))
    let end = UInt64(reader.u32(at: tag.bodyStart + 4))
    guard end >= start else { throw .moduleInvalid(index: index) }
    guard let line = reader.cString(from: tag.bodyStart + 8, to: tag.end) else {
      throw .stringNotTerminated(tagType: tag.type)
    }
    return BootModule(range: PhysicalRange(start: start, end: end), commandLine: line)
  }

  /// ACPI old RSDP (§3.6.16): a 20-byte ACPI 1.0 RSDP whose RSDT address is at offset 16.
  static func rsdp1(in tag: Tag, reader: ByteReader, base: UInt64) throws(Multiboot2Error) -> RSDP {
    try tag.require(bodyBytes: 20)
    return .v1(
      address: base + UInt64(tag.bodyStart), rsdtAddress: reader.u32(at: tag.bodyStart + 16))
  }

  /// ACPI new RSDP (§3.6.17): a 36-byte ACPI 2.0 RSDP whose XSDT address is at offset 24.
  static func rsdp2(in tag: Tag, reader: ByteReader, base: UInt64) throws(Multiboot2Error) -> RSDP {
    try tag.require(bodyBytes: 36)
    return .v2(
      address: base + UInt64(tag.bodyStart), xsdtAddress: reader.u64(at: tag.bodyStart + 24))
  }
}
