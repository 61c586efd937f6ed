/// What a virtio block device did, for `status`, the VM's end report and `make bench`.
/// Requests are counted by type whatever their outcome; bytes only for requests that
/// succeeded.
public struct VirtioBlockStatistics: Equatable {
  public var reads: UInt64 = 0
  public var writes: UInt64 = 0
  public var flushes: UInt64 = 0
  public var identifications: UInt64 = 0
  public var discards: UInt64 = 0
  public var writeZeroes: UInt64 = 0
  /// Requests of a type the device does not serve (answered UNSUPP).
  public var unsupported: UInt64 = 0
  /// Disk bytes copied to the guest (IN) and from it (OUT, WRITE_ZEROES).
  public var bytesRead: UInt64 = 0
  public var bytesWritten: UInt64 = 0
  /// Requests answered IOERR: bad layout, a write to a read-only disk, out of range...
  public var ioErrors: UInt64 = 0
  /// ...of which a sector range past the end of the disk.
  public var outOfRange: UInt64 = 0
  /// Requests whose header is shorter than 16 bytes (answered IOERR, their type unknown).
  public var shortHeaders: UInt64 = 0
  /// Chains with no status byte to answer in: given back with nothing written.
  public var unanswerable: UInt64 = 0
  /// Queue notifications (doorbell writes) the device received.
  public var notifications: UInt64 = 0
  /// Times the driver broke a virtqueue rule and the device asked for a reset.
  public var queueFaults: UInt64 = 0

  public init() {}

  /// Every request the device took from its queue.
  public var requests: UInt64 {
    reads &+ writes &+ flushes &+ identifications &+ discards &+ writeZeroes &+ unsupported
      &+ shortHeaders &+ unanswerable
  }
}
