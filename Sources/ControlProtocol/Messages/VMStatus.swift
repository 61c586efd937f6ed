/// Exits of one reason (the exit model's kind, by name, e.g. "cpuid", "ioInstruction").
public struct ExitCount: Equatable {
  public var reason: [UInt8]
  public var count: UInt64

  public init(reason: [UInt8], count: UInt64) {
    self.reason = reason
    self.count = count
  }
}

/// An MSR the guest touched and the hypervisor refused (#GP injected), and how often.
public struct RefusedMSR: Equatable {
  public var msr: UInt32
  public var count: UInt64

  public init(msr: UInt32, count: UInt64) {
    self.msr = msr
    self.count = count
  }
}

/// A window onto the VM's saved state: the device models' and vCPUs' records as one byte
/// string of `totalSize` bytes (its layout is the state records' own), of which `bytes`
/// start at `offset`. A client reads it whole by asking again from `offset + bytes.count`.
public struct StateExcerpt: Equatable {
  public var totalSize: UInt32
  public var offset: UInt32
  public var bytes: [UInt8]

  public init(totalSize: UInt32, offset: UInt32, bytes: [UInt8]) {
    self.totalSize = totalSize
    self.offset = offset
    self.bytes = bytes
  }

  /// The piece of `state` from `offset` that one answer carries (at most
  /// `ProtocolLimits.maximumStateBytes`); an offset past the end gets no bytes, at the end.
  public static func window(of state: [UInt8], from offset: UInt32) -> StateExcerpt {
    let start = min(Int(offset), state.count)
    let end = min(state.count, start + ProtocolLimits.maximumStateBytes)
    return StateExcerpt(
      totalSize: UInt32(clamping: state.count), offset: UInt32(clamping: start),
      bytes: Array(state[start..<end]))
  }
}

/// The answer to `status`: the first page of `peregrine status VM` (the second, the VM's
/// guest I/O, is `VMIOStatus`).
public struct VMStatus: Equatable {
  public var summary: VMSummary
  public var uptimeMilliseconds: UInt64
  /// Per vCPU, in vCPU order: the host CPU it runs on (or last ran on); `notOnACPU` when it
  /// has none.
  public var vcpuCPUs: [UInt16]
  public var exits: [ExitCount]
  public var refusedMSRs: [RefusedMSR]
  /// Only when the request asked for the state.
  public var state: StateExcerpt?
  /// The host PCI functions the VM owns (`<passthrough>`; protocol version 5), 4 bytes each.
  public var passthrough: [PCIFunctionID]

  public static let notOnACPU: UInt16 = 0xffff

  public init(
    summary: VMSummary, uptimeMilliseconds: UInt64, vcpuCPUs: [UInt16], exits: [ExitCount] = [],
    refusedMSRs: [RefusedMSR] = [], state: StateExcerpt? = nil,
    passthrough: [PCIFunctionID] = []
  ) {
    self.summary = summary
    self.uptimeMilliseconds = uptimeMilliseconds
    self.vcpuCPUs = vcpuCPUs
    self.exits = exits
    self.refusedMSRs = refusedMSRs
    self.state = state
    self.passthrough = passthrough
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    try summary.encode(into: &writer)
    writer.u64(uptimeMilliseconds)
    try writer.count8(vcpuCPUs.count, maximum: ProtocolLimits.maximumVCPUs)
    for cpu in vcpuCPUs { writer.u16(cpu) }
    try writer.count8(exits.count, maximum: ProtocolLimits.maximumExitReasons)
    for exit in exits {
      try writer.bytes8(exit.reason, maximum: ProtocolLimits.maximumExitReasonNameLength)
      writer.u64(exit.count)
    }
    try writer.count8(refusedMSRs.count, maximum: ProtocolLimits.maximumRefusedMSRs)
    for refused in refusedMSRs {
      writer.u32(refused.msr)
      writer.u64(refused.count)
    }
    writer.bool(state != nil)
    if let state {
      writer.u32(state.totalSize)
      writer.u32(state.offset)
      try writer.bytes16(state.bytes, maximum: ProtocolLimits.maximumStateBytes)
    }
    try writer.count8(passthrough.count, maximum: ProtocolLimits.maximumPassthroughFunctions)
    for function in passthrough { function.encode(into: &writer) }
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> VMStatus {
    let summary = try VMSummary.decode(from: &reader)
    let uptime = try reader.u64()
    let cpuCount = try reader.count8(maximum: ProtocolLimits.maximumVCPUs, minimumElementSize: 2)
    var cpus: [UInt16] = []
    for _ in 0..<cpuCount { cpus.append(try reader.u16()) }
    let exitCount = try reader.count8(
      maximum: ProtocolLimits.maximumExitReasons, minimumElementSize: 9)
    var exits: [ExitCount] = []
    for _ in 0..<exitCount {
      let reason = try reader.bytes8(maximum: ProtocolLimits.maximumExitReasonNameLength)
      exits.append(ExitCount(reason: reason, count: try reader.u64()))
    }
    let msrCount = try reader.count8(
      maximum: ProtocolLimits.maximumRefusedMSRs, minimumElementSize: 12)
    var msrs: [RefusedMSR] = []
    for _ in 0..<msrCount {
      let msr = try reader.u32()
      msrs.append(RefusedMSR(msr: msr, count: try reader.u64()))
    }
    var state: StateExcerpt? = nil
    if try reader.bool() {
      let total = try reader.u32()
      let offset = try reader.u32()
      state = StateExcerpt(
        totalSize: total, offset: offset,
        bytes: try reader.bytes16(maximum: ProtocolLimits.maximumStateBytes))
    }
    let functionCount = try reader.count8(
      maximum: ProtocolLimits.maximumPassthroughFunctions,
      minimumElementSize: PCIFunctionID.encodedSize)
    var passthrough: [PCIFunctionID] = []
    for _ in 0..<functionCount { passthrough.append(try PCIFunctionID.decode(from: &reader)) }
    return VMStatus(
      summary: summary, uptimeMilliseconds: uptime, vcpuCPUs: cpus, exits: exits,
      refusedMSRs: msrs, state: state, passthrough: passthrough)
  }
}
