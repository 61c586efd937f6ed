/// One guest NIC's counters in an I/O status answer (docs/guest-io.md): frames and bytes
/// each way, the copies the hypervisor made of frames into or out of guest memory and their
/// bytes, the doorbell writes (queue notifications, one VM exit each) the NIC received, and
/// frames dropped.
public struct NICCounters: Equatable {
  /// Six bytes.
  public var mac: [UInt8]
  public var transmittedFrames: UInt64
  public var transmittedBytes: UInt64
  public var receivedFrames: UInt64
  public var receivedBytes: UInt64
  public var copies: UInt64
  public var copiedBytes: UInt64
  public var notifications: UInt64
  public var droppedFrames: UInt64

  public init(
    mac: [UInt8], transmittedFrames: UInt64 = 0, transmittedBytes: UInt64 = 0,
    receivedFrames: UInt64 = 0, receivedBytes: UInt64 = 0, copies: UInt64 = 0,
    copiedBytes: UInt64 = 0, notifications: UInt64 = 0, droppedFrames: UInt64 = 0
  ) {
    self.mac = mac
    self.transmittedFrames = transmittedFrames
    self.transmittedBytes = transmittedBytes
    self.receivedFrames = receivedFrames
    self.receivedBytes = receivedBytes
    self.copies = copies
    self.copiedBytes = copiedBytes
    self.notifications = notifications
    self.droppedFrames = droppedFrames
  }

  static let encodedSize = 6 + 8 * 8

  func encode(into writer: inout WireWriter) throws(WireError) {
    try writer.fixed(mac, count: 6)
    for value in [
      transmittedFrames, transmittedBytes, receivedFrames, receivedBytes, copies, copiedBytes,
      notifications, droppedFrames,
    ] {
      writer.u64(value)
    }
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> NICCounters {
    let mac = try reader.fixed(count: 6)
    return NICCounters(
      mac: mac, transmittedFrames: try reader.u64(), transmittedBytes: try reader.u64(),
      receivedFrames: try reader.u64(), receivedBytes: try reader.u64(),
      copies: try reader.u64(), copiedBytes: try reader.u64(),
      notifications: try reader.u64(), droppedFrames: try reader.u64())
  }
}
