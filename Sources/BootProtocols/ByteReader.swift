/// Bounds-checked little-endian reads from the information block.
/// Multiboot2 fields are naturally aligned only relative to the block, and
/// fixtures may not be, so every load is unaligned.
struct ByteReader {
  let bytes: UnsafeRawBufferPointer

  func u32(at offset: Int) -> UInt32 {
    UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
  }

  func u64(at offset: Int) -> UInt64 {
    UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
  }

  /// The bytes of `[start, end)` up to the first NUL, or nil when there is no NUL.
  func cString(from start: Int, to end: Int) -> [UInt8]? {
    var result: [UInt8] = []
    var index = start
    while index < end {
      let byte = bytes[index]
      if byte == 0 { return result }
      result.append(byte)
      index += 1
    }
    return nil
  }
}
