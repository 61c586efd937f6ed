/// Guest memory read and written as the control protocol's `memoryRead` and `memoryWrite`
/// carry it (docs/control-protocol.md, "Memory and migration"): offsets are guest-physical
/// addresses from 0 to the VM's memory size, in 1024-byte chunks (the protocol's
/// `maximumMemoryBytes`); reading skips chunks of zeros as `DiskScan` does for disks, but
/// stops at the end of the 256 KiB block the offset lies in (`scanLimit`), so one request's
/// work on the node stays bounded. The block is the CLI's stretch (`readMemory` keeps 16
/// stretches of 256 KiB in flight and drops what an answer brings from past its stretch):
/// with 8 MiB scans every stretch's request scanned into the next 31 stretches, some 24
/// times the memory in all, which under Bochs (VT-x nodes) took 24 s for a 16 MiB VM and
/// left requests unanswered past the CLI's retransmissions (docs/migration.md, "VT-x").
/// (HypervisorCore does not import the protocol: the kernel's ManagerControl wraps the
/// answer.)
public enum GuestMemoryScan {
  public static let chunkSize = 1024
  public static let scanLimit: UInt64 = 256 << 10

  /// The first chunk at or after `offset`, within `offset`'s block of `scanLimit` bytes,
  /// that is not all zeros (up to `maximumLength` bytes of it) and where it starts, or no
  /// bytes and where the scan stopped (the block's end, or the memory's). nil when `offset`
  /// is not a multiple of the chunk size or lies past the end.
  public static func read(
    _ memory: GuestMemoryMap, size: UInt64, from offset: UInt64, maximumLength: Int
  ) -> (offset: UInt64, bytes: [UInt8])? {
    guard offset % UInt64(chunkSize) == 0, offset <= size else { return nil }
    let length = min(max(maximumLength, 0), chunkSize)
    var position = offset
    let end = min(size, (offset / scanLimit + 1) * scanLimit)
    while position < end {
      let chunkEnd = min(position + UInt64(chunkSize), size)
      let count = Int(chunkEnd - position)
      // A chunk lies in one region: regions are whole pages, and chunks divide a page.
      if let pointer = memory.pointer(to: position, length: UInt64(count)) {
        let bytes = UnsafeRawBufferPointer(start: pointer, count: count)
        if !isZero(bytes) {
          return (position, Array(bytes[0..<min(length, count)]))
        }
      }
      position = chunkEnd
    }
    return (end, [])
  }

  /// Copies `bytes` to guest-physical `offset`; false (and nothing written) when they do
  /// not lie wholly inside the memory. Writing the same bytes twice leaves the same memory.
  public static func write(
    _ bytes: [UInt8], to offset: UInt64, in memory: GuestMemoryMap, size: UInt64
  ) -> Bool {
    guard offset <= size, UInt64(bytes.count) <= size - offset else { return false }
    return bytes.withUnsafeBytes { memory.write($0, to: offset) }
  }

  /// Eight bytes at a time where aligned.
  static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var index = 0
    let end = bytes.count
    while index + 8 <= end {
      if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
      index += 8
    }
    while index < end {
      if bytes[index] != 0 { return false }
      index += 1
    }
    return true
  }
}
