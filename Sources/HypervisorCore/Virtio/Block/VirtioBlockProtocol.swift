/// The numbers of the virtio block device (virtio 1.1 §5.2) a driver and the device agree on.
public enum VirtioBlockFeature {
  /// §5.2.3: size_max is the largest single data buffer.
  public static let sizeMax: UInt64 = 1 << 1
  /// seg_max is the most data buffers in one request.
  public static let segmentMax: UInt64 = 1 << 2
  /// The disk is read-only: OUT, DISCARD and WRITE_ZEROES fail.
  public static let readOnly: UInt64 = 1 << 5
  /// blk_size is the logical block size.
  public static let blockSize: UInt64 = 1 << 6
  /// VIRTIO_BLK_T_FLUSH is understood.
  public static let flush: UInt64 = 1 << 9
  /// VIRTIO_BLK_T_DISCARD and its limits in the configuration.
  public static let discard: UInt64 = 1 << 13
  /// VIRTIO_BLK_T_WRITE_ZEROES and its limits in the configuration.
  public static let writeZeroes: UInt64 = 1 << 14
}

/// The request types of `struct virtio_blk_req` (§5.2.6).
public enum VirtioBlockRequestType {
  public static let read: UInt32 = 0  // VIRTIO_BLK_T_IN
  public static let write: UInt32 = 1  // VIRTIO_BLK_T_OUT
  public static let flush: UInt32 = 4
  public static let getID: UInt32 = 8
  public static let discard: UInt32 = 11
  public static let writeZeroes: UInt32 = 13
}

/// The status byte the device writes last (§5.2.6).
public enum VirtioBlockStatus: UInt8, Equatable {
  case ok = 0
  case ioError = 1
  case unsupported = 2
}

/// Sizes fixed by §5.2.6.
public enum VirtioBlockLayout {
  /// Sectors are 512 bytes whatever blk_size says.
  public static let sectorSize: UInt64 = 512
  /// The device-readable header: le32 type, le32 reserved, le64 sector.
  public static let headerSize: UInt64 = 16
  /// GET_ID's answer: the identification string, NUL-padded, unterminated at 20 bytes.
  public static let identifierSize: UInt64 = 20
  /// One DISCARD or WRITE_ZEROES range: le64 sector, le32 num_sectors, le32 flags.
  public static let rangeSize: UInt64 = 16
  /// The range flag `unmap` (bit 0); every other bit is reserved.
  public static let unmapFlag: UInt32 = 1
}
