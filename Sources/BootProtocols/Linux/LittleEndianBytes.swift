/// Little-endian stores into byte arrays the boot structures are assembled in. x86 and
/// every format built here (the Linux zero page, ACPI tables, page tables) are little-endian.
extension Array where Element == UInt8 {
  /// Writes `value` over `self[offset ..< offset + MemoryLayout<T>.size]`.
  mutating func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
    for index in 0..<MemoryLayout<T>.size {
      self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
    }
  }

  /// Appends the `MemoryLayout<T>.size` bytes of `value`.
  mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
    for index in 0..<MemoryLayout<T>.size {
      append(UInt8(truncatingIfNeeded: value >> (8 * index)))
    }
  }

  /// Copies `bytes` to `offset`, which must leave room for all of them.
  mutating func store(_ bytes: [UInt8], at offset: Int) {
    for index in 0..<bytes.count { self[offset + index] = bytes[index] }
  }
}
