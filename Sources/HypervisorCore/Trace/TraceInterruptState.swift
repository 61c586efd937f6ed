/// The part of a vCPU's local APIC that changes between exits, outside any handler: the
/// run loop polls the timer (a request raised, a periodic deadline moved on) and delivers
/// interrupts (a request moved into service), and other vCPUs' IPIs arrive. An exit record
/// holds it when it changed since the vCPU's previous record (docs/exit-trace.md), and the
/// replay puts it into its APIC before the exit, so that reads of IRR, ISR and the timer's
/// current count, and EOIs, find what the recording found. Times are guest-clock ticks.
public struct TraceInterruptState: Equatable {
  public var requests: [UInt32]
  public var inService: [UInt32]
  public var deadline: UInt64?
  public var periodStart: UInt64
  /// The APIC's NMIs not yet taken, 0 to 2 (LocalAPICModel+NMI); one byte, as the
  /// earlier flag (0 or 1) was.
  public var pendingNMIs: UInt8

  public init(
    requests: [UInt32], inService: [UInt32], deadline: UInt64?, periodStart: UInt64,
    pendingNMIs: UInt8
  ) {
    self.requests = requests
    self.inService = inService
    self.deadline = deadline
    self.periodStart = periodStart
    self.pendingNMIs = pendingNMIs
  }

  func encode(into writer: inout StateWriter) {
    for word in 0..<8 { writer.u32(requests[word]) }
    for word in 0..<8 { writer.u32(inService[word]) }
    writer.bool(deadline != nil)
    writer.u64(deadline ?? 0)
    writer.u64(periodStart)
    writer.u8(pendingNMIs)
  }

  static func decode(_ reader: inout StateReader) throws(StateDecodingError)
    -> TraceInterruptState
  {
    var requests: [UInt32] = []
    for _ in 0..<8 { requests.append(try reader.u32()) }
    var inService: [UInt32] = []
    for _ in 0..<8 { inService.append(try reader.u32()) }
    let armed = try reader.bool()
    let deadline = try reader.u64()
    let periodStart = try reader.u64()
    let pendingNMIs = try reader.u8()
    try reader.check(pendingNMIs <= LocalAPICModel.maximumPendingNMIs, fieldSize: 1)
    return TraceInterruptState(
      requests: requests, inService: inService, deadline: armed ? deadline : nil,
      periodStart: periodStart, pendingNMIs: pendingNMIs)
  }
}

extension LocalAPICModel {
  /// What an exit record holds of this APIC (TraceInterruptState).
  public var traceInterruptState: TraceInterruptState {
    get {
      TraceInterruptState(
        requests: requests, inService: inService, deadline: deadline, periodStart: periodStart,
        pendingNMIs: pendingNMIs)
    }
    set {
      for word in 0..<8 {
        requests[word] = newValue.requests[word]
        inService[word] = newValue.inService[word]
      }
      deadline = newValue.deadline
      periodStart = newValue.periodStart
      pendingNMIs = min(newValue.pendingNMIs, Self.maximumPendingNMIs)
    }
  }
}
