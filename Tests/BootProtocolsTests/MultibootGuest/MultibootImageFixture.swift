/// Multiboot guest images built byte by byte for the loader's tests: ELF32/ELF64 with a v1
/// header, the a.out kludge, and v2 headers with chosen tags.
enum MultibootImageFixture {
  static func le32(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
  }
  static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
  static func le64(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
  }

  static func v1Header(flags: UInt32 = 0, checksumError: UInt32 = 0) -> [UInt8] {
    le32(0x1BAD_B002) + le32(flags) + le32(0 &- 0x1BAD_B002 &- flags &+ checksumError)
  }

  struct Segment {
    var offset: UInt64
    var virtualAddress: UInt64
    var physicalAddress: UInt64
    var fileSize: UInt64
    var memorySize: UInt64
    var type: UInt32 = 1
  }

  /// An ELF executable: header, program headers, then `body` (its multiboot header first) at
  /// file offset 0x100.
  static func elf(
    is64: Bool, entry: UInt64, segments: [Segment], body: [UInt8], machine: UInt16? = nil
  ) -> [UInt8] {
    var bytes: [UInt8] =
      [0x7F, 0x45, 0x4C, 0x46, is64 ? 2 : 1, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
    bytes += le16(2) + le16(machine ?? (is64 ? 62 : 3)) + le32(1)
    let headerSize: UInt16 = is64 ? 64 : 52
    let entrySize: UInt16 = is64 ? 56 : 32
    if is64 {
      bytes += le64(entry) + le64(UInt64(headerSize)) + le64(0)
    } else {
      bytes += le32(UInt32(entry)) + le32(UInt32(headerSize)) + le32(0)
    }
    bytes +=
      le32(0) + le16(headerSize) + le16(entrySize) + le16(UInt16(segments.count))
      + le16(0) + le16(0) + le16(0)
    for s in segments {
      if is64 {
        bytes +=
          le32(s.type) + le32(7) + le64(s.offset) + le64(s.virtualAddress)
          + le64(s.physicalAddress) + le64(s.fileSize) + le64(s.memorySize) + le64(0x1000)
      } else {
        bytes +=
          le32(s.type) + le32(UInt32(s.offset)) + le32(UInt32(s.virtualAddress))
          + le32(UInt32(s.physicalAddress)) + le32(UInt32(s.fileSize))
          + le32(UInt32(s.memorySize)) + le32(7) + le32(0x1000)
      }
    }
    bytes += [UInt8](repeating: 0, count: 0x100 - bytes.count)
    return bytes + body
  }

  /// A v1 ELF32 kernel at 1 MiB: 0x200 file bytes (from offset 0x100) and 0x1000 in memory,
  /// entry 0x100010.
  static func goodV1ELF32() -> [UInt8] {
    elf(
      is64: false, entry: 0x10_0010,
      segments: [
        Segment(
          offset: 0x100, virtualAddress: 0x10_0000, physicalAddress: 0x10_0000,
          fileSize: 0x200, memorySize: 0x1000)
      ],
      body: v1Header() + [UInt8](repeating: 0x90, count: 0x200 - 12))
  }

  /// A v1 kernel with address fields: the header at file offset 0x40 maps to 0x200040, the
  /// file loads from its start at 0x200000, bss to 0x203000, entry 0x200080.
  static func v1Kludge(
    headerAddress: UInt32 = 0x20_0040, loadAddress: UInt32 = 0x20_0000, loadEnd: UInt32 = 0,
    bssEnd: UInt32 = 0x20_3000, entry: UInt32 = 0x20_0080
  ) -> [UInt8] {
    let flags: UInt32 = 1 << 16
    var bytes = [UInt8](repeating: 0xCC, count: 0x40)
    bytes += v1Header(flags: flags)
    bytes += le32(headerAddress) + le32(loadAddress) + le32(loadEnd) + le32(bssEnd) + le32(entry)
    bytes += [UInt8](repeating: 0x90, count: 0x100 - bytes.count)
    return bytes
  }

  static func v2Tag(_ type: UInt16, flags: UInt16 = 0, _ body: [UInt8]) -> [UInt8] {
    var tag = le16(type) + le16(flags) + le32(UInt32(8 + body.count)) + body
    while tag.count % 8 != 0 { tag.append(0) }
    return tag
  }

  static func v2Header(tags: [[UInt8]], architecture: UInt32 = 0, checksumError: UInt32 = 0)
    -> [UInt8]
  {
    let body = tags.reduce([], +) + v2Tag(0, [])
    let length = UInt32(16 + body.count)
    return le32(0xE852_50D6) + le32(architecture) + le32(length)
      + le32(0 &- 0xE852_50D6 &- architecture &- length &+ checksumError) + body
  }

  /// A v2 kernel with address and entry tags: the whole file at 2 MiB, bss to 0x202000.
  static func v2Kludge(extraTags: [[UInt8]] = [], entry: UInt32 = 0x20_0100) -> [UInt8] {
    let header = v2Header(
      tags: extraTags + [
        v2Tag(2, le32(0x20_0000) + le32(0x20_0000) + le32(0) + le32(0x20_2000)),
        v2Tag(3, le32(entry)),
      ])
    return header + [UInt8](repeating: 0x90, count: 0x200 - header.count)
  }
}
