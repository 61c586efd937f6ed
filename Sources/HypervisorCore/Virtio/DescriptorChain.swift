/// One guest buffer of a request: guest-physical, checked to lie wholly inside guest RAM.
public struct GuestBuffer: Equatable {
  public var guestPhysical: UInt64
  public var length: UInt32
  /// Device-writable (VIRTQ_DESC_F_WRITE): the device fills it; otherwise the device reads it.
  public var writable: Bool

  public init(guestPhysical: UInt64, length: UInt32, writable: Bool) {
    self.guestPhysical = guestPhysical
    self.length = length
    self.writable = writable
  }
}

/// A request the driver made available: its head descriptor (the token the used ring gives
/// back) and its buffers in order, device-readable ones first (virtio 1.1 §2.6.4.2).
public struct DescriptorChain: Equatable {
  public var head: UInt16
  public var buffers: [GuestBuffer]

  public init(head: UInt16, buffers: [GuestBuffer]) {
    self.head = head
    self.buffers = buffers
  }

  /// Bytes the device may read.
  public var readableLength: UInt64 {
    var total: UInt64 = 0
    for buffer in buffers where !buffer.writable { total += UInt64(buffer.length) }
    return total
  }

  /// Bytes the device may write.
  public var writableLength: UInt64 {
    var total: UInt64 = 0
    for buffer in buffers where buffer.writable { total += UInt64(buffer.length) }
    return total
  }
}
