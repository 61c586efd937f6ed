/// A VM's lifecycle state as the node reports it.
public enum VMState: UInt8, Equatable, CaseIterable {
  case starting = 0
  case running = 1
  /// Asked to pause; some vCPUs have not yet stopped at a safe point.
  case pausing = 2
  case paused = 3
  /// Its vCPUs ended (the guest finished or was stopped); resources not yet returned.
  case ended = 4
  /// Stopped by a fault the hypervisor reported.
  case failed = 5
  /// Created `incoming`: built, not started; waits for its memory (`memoryWrite`) and its
  /// saved state (`restoreState`), which starts it.
  case incoming = 6
}

/// One VM in `listVMs` (and the answer to `createVM`).
public struct VMSummary: Equatable {
  /// The node's VM identity (from its pool; reused only after the VM is gone).
  public var id: UInt16
  public var name: [UInt8]
  public var state: VMState
  public var vcpuCount: UInt16
  public var memorySize: UInt64
  /// Since it was created, paused time included (protocol version 2).
  public var uptimeMilliseconds: UInt64

  public init(
    id: UInt16, name: [UInt8], state: VMState, vcpuCount: UInt16, memorySize: UInt64,
    uptimeMilliseconds: UInt64 = 0
  ) {
    self.id = id
    self.name = name
    self.state = state
    self.vcpuCount = vcpuCount
    self.memorySize = memorySize
    self.uptimeMilliseconds = uptimeMilliseconds
  }

  /// The encoded size with an empty name: what a list's count is checked against.
  static let minimumEncodedSize = 22

  func encode(into writer: inout WireWriter) throws(WireError) {
    writer.u16(id)
    try writer.bytes8(name, maximum: ProtocolLimits.maximumNameLength)
    writer.u8(state.rawValue)
    writer.u16(vcpuCount)
    writer.u64(memorySize)
    writer.u64(uptimeMilliseconds)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> VMSummary {
    let id = try reader.u16()
    let name = try reader.bytes8(maximum: ProtocolLimits.maximumNameLength)
    let state = try reader.enumeration(VMState.self)
    let vcpuCount = try reader.u16()
    let memorySize = try reader.u64()
    return VMSummary(
      id: id, name: name, state: state, vcpuCount: vcpuCount, memorySize: memorySize,
      uptimeMilliseconds: try reader.u64())
  }
}

/// The answer to `listVMs(startIndex:)`: up to `ProtocolLimits.maximumListedVMs` VMs and
/// how many the node has in all (ask again from `startIndex + vms.count` while fewer).
public struct VMList: Equatable {
  public var vms: [VMSummary]
  public var total: UInt16

  public init(vms: [VMSummary], total: UInt16) {
    self.vms = vms
    self.total = total
  }
}
