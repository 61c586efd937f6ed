/// Why a guest NIC dropped a frame. Each is counted (`VirtioNetCounters.drops`).
public enum VirtioNetDrop: Int, Equatable, CaseIterable {
  /// Transmit: fewer than a virtio-net header and an Ethernet header (12 + 14 bytes).
  case transmitTooShort
  /// Transmit: a frame longer than 1514 bytes (the device offers no segmentation offload).
  case transmitTooLong
  /// Transmit: a source MAC other than the NIC's own (the switch's anti-spoofing).
  case transmitSpoofed
  /// Transmit: no port for its destination (no uplink, or the NIC's own MAC).
  case transmitNoRoute
  /// Transmit: the receiving NIC dropped it (its driver not up, a buffer too small: its
  /// counters say why). No room is not a drop: the frame waits (`transmitDeferred`).
  case transmitPeerRefused
  /// Receive: the driver has not set DRIVER_OK, or the queue faulted.
  case receiveNotReady
  /// Receive: no receive buffer was available.
  case receiveNoBuffer
  /// Receive: the buffer was smaller than header and frame, or device-readable.
  case receiveBufferTooSmall
  /// The driver broke a virtqueue rule; the device needs a reset (virtio 1.1 §2.1.2).
  case queueFault
  /// Transmit: a frame held for room (`transmitDeferred`) when the VM's state was saved
  /// (checkpoint, migration): used at the save, unsent. The saved ring index counts its
  /// chain as taken, so keeping it would leave the restored driver waiting for it forever;
  /// a frame in flight during a move is lost, as on a wire, and TCP sends it again.
  case transmitHeldAtSave
}

/// A guest NIC's counters. The transmit half is written under the VM's device lock, the
/// receive half under the NIC's receive lock; `VirtioNetDevice.counters` adds the two.
public struct VirtioNetCounters: Equatable {
  public var transmittedFrames: UInt64 = 0
  public var transmittedBytes: UInt64 = 0
  public var receivedFrames: UInt64 = 0
  public var receivedBytes: UInt64 = 0
  /// Bytes the hypervisor copied out of or into guest memory: each transmitted frame once,
  /// each received frame and its virtio-net header once.
  public var copiedBytes: UInt64 = 0
  /// Frames copied out of or into guest memory: one per transmitted frame, one per received
  /// frame (with its header). Between two guests each packet is copied twice.
  public var copies: UInt64 = 0
  /// Doorbell writes (queue notifications) of either queue: each one VM exit.
  public var notifications: UInt64 = 0
  /// Times the transmit queue blocked: the switch had no room for a frame (the uplink's
  /// transmit ring, a local guest's receive queue), so the NIC held it, its descriptor not
  /// used, until the switch took it. Not a drop: every held frame is sent.
  public var transmitDeferred: UInt64 = 0
  /// Indexed by `VirtioNetDrop.rawValue`.
  public var drops = [UInt64](repeating: 0, count: VirtioNetDrop.allCases.count)

  public init() {}

  public func dropped(_ reason: VirtioNetDrop) -> UInt64 { drops[reason.rawValue] }

  public var totalDrops: UInt64 { drops.reduce(0, &+) }

  mutating func count(_ reason: VirtioNetDrop) { drops[reason.rawValue] &+= 1 }

  static func + (left: VirtioNetCounters, right: VirtioNetCounters) -> VirtioNetCounters {
    var sum = left
    sum.transmittedFrames &+= right.transmittedFrames
    sum.transmittedBytes &+= right.transmittedBytes
    sum.receivedFrames &+= right.receivedFrames
    sum.receivedBytes &+= right.receivedBytes
    sum.copiedBytes &+= right.copiedBytes
    sum.copies &+= right.copies
    sum.notifications &+= right.notifications
    sum.transmitDeferred &+= right.transmitDeferred
    for index in sum.drops.indices { sum.drops[index] &+= right.drops[index] }
    return sum
  }
}
