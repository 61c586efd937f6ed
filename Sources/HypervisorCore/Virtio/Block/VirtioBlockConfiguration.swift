/// The device-specific configuration of a virtio block device, `struct virtio_blk_config`
/// (virtio 1.1 §5.2.4), as the driver reads it through the transport: little-endian, 60
/// bytes, fixed for the device's life (so no generation counter is needed).
///
///     0 le64 capacity            20 le32 blk_size            36 le32 max_discard_sectors
///     8 le32 size_max            24 topology (8 bytes)       40 le32 max_discard_seg
///    12 le32 seg_max             32 u8 writeback, 3 unused   44 le32 discard_sector_alignment
///    16 geometry (4 bytes)                                    48 le32 max_write_zeroes_sectors
///                                                            52 le32 max_write_zeroes_seg
///                                                            56 u8 write_zeroes_may_unmap, 3 unused
public struct VirtioBlockConfiguration: Equatable {
  public static let size = 60

  /// The disk's size in 512-byte sectors.
  public var capacity: UInt64
  /// The largest single data buffer, in bytes.
  public var sizeMax: UInt32
  /// The most data buffers in one request.
  public var segmentMax: UInt32
  public var blockSize: UInt32
  /// The most sectors one DISCARD range, and one WRITE_ZEROES range, may cover.
  public var maximumDiscardSectors: UInt32
  public var maximumDiscardSegments: UInt32
  /// In sectors: Linux takes it as the discard granularity.
  public var discardSectorAlignment: UInt32
  public var maximumWriteZeroesSectors: UInt32
  public var maximumWriteZeroesSegments: UInt32

  public init(
    capacity: UInt64, sizeMax: UInt32, segmentMax: UInt32, blockSize: UInt32,
    maximumDiscardSectors: UInt32, maximumDiscardSegments: UInt32,
    discardSectorAlignment: UInt32, maximumWriteZeroesSectors: UInt32,
    maximumWriteZeroesSegments: UInt32
  ) {
    self.capacity = capacity
    self.sizeMax = sizeMax
    self.segmentMax = segmentMax
    self.blockSize = blockSize
    self.maximumDiscardSectors = maximumDiscardSectors
    self.maximumDiscardSegments = maximumDiscardSegments
    self.discardSectorAlignment = discardSectorAlignment
    self.maximumWriteZeroesSectors = maximumWriteZeroesSectors
    self.maximumWriteZeroesSegments = maximumWriteZeroesSegments
  }

  /// A guest read of `size` bytes (1, 2 or 4) at `offset`; bytes past the structure read as 0.
  public func read(offset: Int, size: Int) -> UInt32 {
    var value: UInt32 = 0
    for index in 0..<min(max(size, 0), 4) {
      value |= UInt32(byte(at: offset + index)) << (8 * UInt32(index))
    }
    return value
  }

  /// Byte `offset` of the little-endian structure.
  func byte(at offset: Int) -> UInt8 {
    func field(_ value: UInt64, _ start: Int, _ width: Int) -> UInt8? {
      guard offset >= start, offset < start + width else { return nil }
      return UInt8(truncatingIfNeeded: value >> (8 * UInt64(offset - start)))
    }
    return field(capacity, 0, 8) ?? field(UInt64(sizeMax), 8, 4)
      ?? field(UInt64(segmentMax), 12, 4) ?? field(UInt64(blockSize), 20, 4)
      ?? field(UInt64(maximumDiscardSectors), 36, 4)
      ?? field(UInt64(maximumDiscardSegments), 40, 4)
      ?? field(UInt64(discardSectorAlignment), 44, 4)
      ?? field(UInt64(maximumWriteZeroesSectors), 48, 4)
      ?? field(UInt64(maximumWriteZeroesSegments), 52, 4) ?? 0
  }
}
