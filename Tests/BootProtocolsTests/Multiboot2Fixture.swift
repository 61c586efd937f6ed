@testable import BootProtocols

/// Builds Multiboot2 information blocks byte by byte (Multiboot2 spec §3.6.2):
/// each tag is appended at an 8-byte boundary and `total_size` is patched at the end.
struct Multiboot2Fixture {
  var bytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0]
  /// Overrides the computed total_size when set.
  var declaredTotalSize: UInt32? = nil

  mutating func appendTag(type: UInt32, body: [UInt8], sizeOverride: UInt32? = nil) {
    while bytes.count % 8 != 0 { bytes.append(0) }
    bytes += Self.le32(type)
    bytes += Self.le32(sizeOverride ?? UInt32(8 + body.count))
    bytes += body
  }

  mutating func appendString(type: UInt32, _ text: String, terminated: Bool = true) {
    appendTag(type: type, body: Array(text.utf8) + (terminated ? [0] : []))
  }

  mutating func appendModule(start: UInt32, end: UInt32, commandLine: String) {
    appendTag(type: 3, body: Self.le32(start) + Self.le32(end) + Array(commandLine.utf8) + [0])
  }

  struct Entry {
    var base: UInt64
    var length: UInt64
    var type: UInt32
  }

  mutating func appendMemoryMap(
    _ entries: [Entry], entrySize: UInt32 = 24, extraBytes: Int = 0
  ) {
    var body = Self.le32(entrySize) + Self.le32(0)
    for entry in entries {
      var raw = Self.le64(entry.base) + Self.le64(entry.length) + Self.le32(entry.type)
      raw += [UInt8](repeating: 0, count: max(Int(entrySize), 20) - 20)
      body += raw
    }
    body += [UInt8](repeating: 0, count: extraBytes)
    appendTag(type: 6, body: body)
  }

  mutating func appendRSDPv1(rsdt: UInt32) {
    var body = Array("RSD PTR ".utf8) + [0] + Array("OEMID ".utf8) + [0]
    body += Self.le32(rsdt)
    appendTag(type: 14, body: body)
  }

  mutating func appendRSDPv2(xsdt: UInt64) {
    var body = Array("RSD PTR ".utf8) + [0] + Array("OEMID ".utf8) + [2]
    body += Self.le32(0) + Self.le32(36) + Self.le64(xsdt) + [0, 0, 0, 0]
    appendTag(type: 15, body: body)
  }

  mutating func appendEnd() { appendTag(type: 0, body: []) }

  /// The finished block with total_size filled in.
  func build() -> [UInt8] {
    var result = bytes
    let total = Self.le32(declaredTotalSize ?? UInt32(result.count))
    result.replaceSubrange(0..<4, with: total)
    return result
  }

  /// Parses the finished block as if it lived at `physicalAddress`.
  func parse(at physicalAddress: UInt64 = 0x10_0000) throws(Multiboot2Error) -> BootInformation {
    let block = build()
    return try Self.parse(block, at: physicalAddress)
  }

  static func parse(_ block: [UInt8], at physicalAddress: UInt64 = 0x10_0000)
    throws(Multiboot2Error) -> BootInformation
  {
    let result = block.withUnsafeBytes { buffer in
      Result { () throws(Multiboot2Error) -> BootInformation in
        try Multiboot2.parse(buffer, physicalAddress: physicalAddress)
      }
    }
    return try result.get()
  }

  /// A well-formed memory map for tests that only break something else.
  static let simpleMap = [Entry(base: 0, length: 0x9_F000, type: 1)]

  static func le32(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
  }

  static func le64(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
  }
}
