/// Bounds-checked little-endian reads from a guest image: every read of bytes the image does
/// not have answers nil, so a truncated or hostile image is refused, never read past.
struct ImageBytes {
  let bytes: UnsafeRawBufferPointer

  var count: Int { bytes.count }

  func u16(at offset: Int) -> UInt16? { read(offset, as: UInt16.self) }
  func u32(at offset: Int) -> UInt32? { read(offset, as: UInt32.self) }
  func u64(at offset: Int) -> UInt64? { read(offset, as: UInt64.self) }

  private func read<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T? {
    guard offset >= 0, offset <= bytes.count - MemoryLayout<T>.size else { return nil }
    return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
  }
}
