/// A VM's virtio-blk disk in an I/O status answer (docs/guest-io.md, "Counting"): requests
/// by type, bytes moved, requests answered IOERR, and the doorbell writes (queue
/// notifications) the device received, each of which was one VM exit.
public struct DiskCounters: Equatable {
  public var reads: UInt64
  public var writes: UInt64
  public var flushes: UInt64
  /// Every other request the device took: GET_ID, DISCARD, WRITE_ZEROES, unsupported types,
  /// short headers and chains with no status byte.
  public var otherRequests: UInt64
  public var bytesRead: UInt64
  public var bytesWritten: UInt64
  public var ioErrors: UInt64
  public var notifications: UInt64
  public var queueFaults: UInt64

  public init(
    reads: UInt64 = 0, writes: UInt64 = 0, flushes: UInt64 = 0, otherRequests: UInt64 = 0,
    bytesRead: UInt64 = 0, bytesWritten: UInt64 = 0, ioErrors: UInt64 = 0,
    notifications: UInt64 = 0, queueFaults: UInt64 = 0
  ) {
    self.reads = reads
    self.writes = writes
    self.flushes = flushes
    self.otherRequests = otherRequests
    self.bytesRead = bytesRead
    self.bytesWritten = bytesWritten
    self.ioErrors = ioErrors
    self.notifications = notifications
    self.queueFaults = queueFaults
  }

  /// Every request the device took from its queue.
  public var requests: UInt64 { reads &+ writes &+ flushes &+ otherRequests }

  static let encodedSize = 9 * 8

  func encode(into writer: inout WireWriter) {
    for value in [
      reads, writes, flushes, otherRequests, bytesRead, bytesWritten, ioErrors, notifications,
      queueFaults,
    ] {
      writer.u64(value)
    }
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> DiskCounters {
    DiskCounters(
      reads: try reader.u64(), writes: try reader.u64(), flushes: try reader.u64(),
      otherRequests: try reader.u64(), bytesRead: try reader.u64(),
      bytesWritten: try reader.u64(), ioErrors: try reader.u64(),
      notifications: try reader.u64(), queueFaults: try reader.u64())
  }
}

/// The answer to `ioStatus`: the second page of `peregrine status VM`, the VM's guest I/O.
/// It is a page of its own because the first (`VMStatus`: per-reason exits, refused MSRs,
/// vCPUs) can fill most of a datagram by itself. `totalExits` and the uptime are taken
/// with the counters, so two answers give the exits and requests of the time between them.
public struct VMIOStatus: Equatable {
  public var uptimeMilliseconds: UInt64
  /// Every VM exit so far, of every reason and vCPU.
  public var totalExits: UInt64
  /// nil: the VM has no disk.
  public var disk: DiskCounters?
  /// Every guest NIC, in profile order (at most `ProtocolLimits.maximumNICs`).
  public var nics: [NICCounters]

  public init(
    uptimeMilliseconds: UInt64, totalExits: UInt64, disk: DiskCounters? = nil,
    nics: [NICCounters] = []
  ) {
    self.uptimeMilliseconds = uptimeMilliseconds
    self.totalExits = totalExits
    self.disk = disk
    self.nics = nics
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    writer.u64(uptimeMilliseconds)
    writer.u64(totalExits)
    writer.bool(disk != nil)
    disk?.encode(into: &writer)
    try writer.count8(nics.count, maximum: ProtocolLimits.maximumNICs)
    for nic in nics { try nic.encode(into: &writer) }
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> VMIOStatus {
    let uptime = try reader.u64()
    let exits = try reader.u64()
    var disk: DiskCounters? = nil
    if try reader.bool() { disk = try DiskCounters.decode(from: &reader) }
    let count = try reader.count8(
      maximum: ProtocolLimits.maximumNICs, minimumElementSize: NICCounters.encodedSize)
    var nics: [NICCounters] = []
    for _ in 0..<count { nics.append(try NICCounters.decode(from: &reader)) }
    return VMIOStatus(uptimeMilliseconds: uptime, totalExits: exits, disk: disk, nics: nics)
  }
}
