/// The fixed 32-byte header of every datagram (docs/control-protocol.md), big-endian:
///
///     0  magic "PGCP"        4  version       5  kind       6  flags     7  reserved (0)
///     8  client id (32)     12  payload length (16)         14  reserved (16, 0)
///     16 node epoch (64)    24  sequence number (64)
///
/// followed by the payload and a 32-byte HMAC-SHA-256 tag over header and payload.
public struct DatagramHeader: Equatable {
  public static let size = 32
  public static let magic: [UInt8] = [0x50, 0x47, 0x43, 0x50]  // "PGCP"
  /// 2: VM summaries carry uptime, node info carries health problems.
  /// 3: VM specifications name a disk image, transfers may be sparse, disks are read back
  /// (`diskRead`, `diskDigest`).
  /// 4: status answers carry the VM's guest NIC counters; node info carries machine-check
  /// counts and the health history.
  /// 5: memory read/write, dirty log, restore state (kinds 16-19), incoming VMs and
  /// passthrough functions; a VM's I/O counters are their own page (`ioStatus`, kind 20): the disk's requests by type,
  /// bytes, errors and doorbell exits, and up to 8 NICs with copies and doorbell exits; the
  /// status answer no longer carries NICs.
  public static let currentVersion: UInt8 = 5

  public var kind: MessageKind
  public var isResponse: Bool
  /// Who sent the request (responses carry the request's).
  public var clientID: UInt32
  /// The node's boot epoch: in a request, the one the client believes current; in a
  /// response, the node's. A node refuses requests of another epoch, so that the sequence
  /// numbers it accepted before a restart cannot be replayed after it.
  public var epoch: UInt64
  /// Increases with each new request of a client (responses carry the request's).
  public var sequence: UInt64

  public init(
    kind: MessageKind, isResponse: Bool, clientID: UInt32, epoch: UInt64, sequence: UInt64
  ) {
    self.kind = kind
    self.isResponse = isResponse
    self.clientID = clientID
    self.epoch = epoch
    self.sequence = sequence
  }

  func encode(into writer: inout WireWriter, payloadLength: Int) {
    for byte in DatagramHeader.magic { writer.u8(byte) }
    writer.u8(DatagramHeader.currentVersion)
    writer.u8(kind.rawValue)
    writer.u8(isResponse ? DatagramFlags.response : 0)
    writer.u8(0)
    writer.u32(clientID)
    writer.u16(UInt16(payloadLength))
    writer.u16(0)
    writer.u64(epoch)
    writer.u64(sequence)
  }
}
