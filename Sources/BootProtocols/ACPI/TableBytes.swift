/// Little-endian reads from one ACPI table or AML stream. ACPI structures carry no
/// alignment guarantee (ACPI 6.4 §5.2), so every load is unaligned. Callers check
/// `count` before reading; the reads themselves do not.
struct TableBytes {
  let bytes: UnsafeRawBufferPointer

  init(_ bytes: UnsafeRawBufferPointer) {
    self.bytes = bytes
  }

  var count: Int { bytes.count }

  subscript(offset: Int) -> UInt8 { bytes[offset] }

  func u16(at offset: Int) -> UInt16 {
    UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
  }

  func u32(at offset: Int) -> UInt32 {
    UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
  }

  func u64(at offset: Int) -> UInt64 {
    UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
  }

  /// A copy of `[offset, offset + length)`.
  func array(at offset: Int, count length: Int) -> [UInt8] {
    var result: [UInt8] = []
    result.reserveCapacity(length)
    for index in offset..<offset + length { result.append(bytes[index]) }
    return result
  }

  /// Whether `[offset, offset + pattern.count)` equals `pattern`.
  func matches(_ pattern: [UInt8], at offset: Int) -> Bool {
    guard offset >= 0, offset + pattern.count <= count else { return false }
    for index in 0..<pattern.count where bytes[offset + index] != pattern[index] { return false }
    return true
  }

  /// ACPI 6.4 §5.2.5.3 and §5.2.6: all bytes, checksum included, sum to zero mod 256.
  var checksumValid: Bool {
    var sum: UInt8 = 0
    for byte in bytes { sum &+= byte }
    return sum == 0
  }
}
