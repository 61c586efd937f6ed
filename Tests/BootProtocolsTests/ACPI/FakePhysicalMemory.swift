@testable import BootProtocols

/// Physical memory made of separate regions, each backed by its own allocation so the
/// buffers it hands out stay valid for the fake's lifetime. Reads that leave a region fail,
/// like reads of unmapped memory.
final class FakePhysicalMemory: ACPIMemory {
  private var regions: [(base: UInt64, buffer: UnsafeMutableRawBufferPointer)] = []

  deinit {
    for region in regions { region.buffer.deallocate() }
  }

  /// Copies `bytes` to `base`. Regions must not overlap.
  func place(_ bytes: [UInt8], at base: UInt64) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    buffer.copyBytes(from: bytes)
    regions.append((base, buffer))
  }

  func bytes(at physical: UInt64, count: Int) -> UnsafeRawBufferPointer? {
    for region in regions
    where physical >= region.base
      && physical - region.base + UInt64(count) <= UInt64(region.buffer.count)
    {
      let start = Int(physical - region.base)
      return UnsafeRawBufferPointer(rebasing: region.buffer[start..<start + count])
    }
    return nil
  }
}
