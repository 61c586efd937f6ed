import HypervisorCore

/// The backend as the trace recorded it: each question a handler asks is answered with the
/// recorded answer, in order. A question that is not the next recorded one (another call,
/// or other arguments) is a divergence: the handler no longer behaves as it did.
struct ReplayGuest: GuestStateAccess {
  final class Script {
    var calls: [TraceGuestCall]
    var next = 0
    var divergence: String?

    init(_ calls: [TraceGuestCall]) { self.calls = calls }

    /// The next recorded call, if `matches` accepts it; otherwise notes the divergence.
    func take(_ asked: String, _ matches: (TraceGuestCall) -> Bool) -> TraceGuestCall? {
      guard divergence == nil else { return nil }
      guard next < calls.count else {
        divergence = "the handler asked \(asked) after the \(calls.count) recorded calls"
        return nil
      }
      let call = calls[next]
      guard matches(call) else {
        divergence = "call \(next): the handler asked \(asked), the trace has \(call)"
        return nil
      }
      next += 1
      return call
    }

    var unconsumed: Int { calls.count - next }
  }

  let script: Script

  init(_ calls: [TraceGuestCall]) { script = Script(calls) }

  func mode() -> GuestMode {
    if case .mode(let mode)? = script.take("mode()", { if case .mode = $0 { true } else { false } })
    {
      return mode
    }
    return GuestMode(width: .real)
  }

  func instructionFetchKey(rip: UInt64) -> InstructionFetchKey {
    let call = script.take("instructionFetchKey(rip: \(rip))") {
      if case .instructionFetchKey(rip, _) = $0 { true } else { false }
    }
    if case .instructionFetchKey(_, let key)? = call {
      return InstructionFetchKey(linear: key.linear, addressSpace: key.addressSpace)
    }
    return InstructionFetchKey(linear: rip, addressSpace: InstructionFetchKey.unpaged)
  }

  var privilegeLevel: UInt8 {
    let call = script.take("privilegeLevel") {
      if case .privilegeLevel = $0 { true } else { false }
    }
    if case .privilegeLevel(let level)? = call { return level }
    return 0
  }

  func readStateMSR(_ index: UInt32) -> UInt64? {
    let call = script.take("readStateMSR(\(index))") {
      if case .readStateMSR(index, _) = $0 { true } else { false }
    }
    if case .readStateMSR(_, let value)? = call { return value }
    return nil
  }

  mutating func writeStateMSR(_ index: UInt32, _ value: UInt64) -> Bool {
    let call = script.take("writeStateMSR(\(index), \(value))") {
      if case .writeStateMSR(index, value, _) = $0 { true } else { false }
    }
    if case .writeStateMSR(_, _, let accepted)? = call { return accepted }
    return false
  }

  func readControlRegister(_ number: UInt8) -> UInt64 {
    let call = script.take("readControlRegister(\(number))") {
      if case .readControlRegister(number, _) = $0 { true } else { false }
    }
    if case .readControlRegister(_, let value)? = call { return value }
    return 0
  }

  mutating func writeControlRegister(_ number: UInt8, _ value: UInt64) -> Bool {
    let call = script.take("writeControlRegister(\(number), \(value))") {
      if case .writeControlRegister(number, value, _) = $0 { true } else { false }
    }
    if case .writeControlRegister(_, _, let accepted)? = call { return accepted }
    return false
  }

  var holdsPAEPointers: Bool {
    let call = script.take("holdsPAEPointers") {
      if case .holdsPAEPointers = $0 { true } else { false }
    }
    if case .holdsPAEPointers(let holds)? = call { return holds }
    return false
  }

  mutating func loadPAEPointers(_ pointers: PAEDirectoryPointers) {
    _ = script.take("loadPAEPointers(\(pointers))") {
      if case .loadPAEPointers(pointers) = $0 { true } else { false }
    }
  }

  func hostCPUID(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    let call = script.take("hostCPUID(\(leaf), \(subleaf))") {
      if case .hostCPUID(leaf, subleaf, _) = $0 { true } else { false }
    }
    if case .hostCPUID(_, _, let result)? = call { return result }
    return CPUIDLeaf()
  }

  func guestTimeStampCounter() -> UInt64 {
    let call = script.take("guestTimeStampCounter()") {
      if case .guestTimeStampCounter = $0 { true } else { false }
    }
    if case .guestTimeStampCounter(let value)? = call { return value }
    return 0
  }

  var timeStampCounterOffset: UInt64 {
    let call = script.take("timeStampCounterOffset") {
      if case .timeStampCounterOffset = $0 { true } else { false }
    }
    if case .timeStampCounterOffset(let value)? = call { return value }
    return 0
  }

  mutating func setFaultAddress(_ linear: UInt64) {
    _ = script.take("setFaultAddress(\(linear))") {
      if case .setFaultAddress(linear) = $0 { true } else { false }
    }
  }

  mutating func setGuestTimeStampCounter(_ value: UInt64) {
    _ = script.take("setGuestTimeStampCounter(\(value))") {
      if case .setGuestTimeStampCounter(value) = $0 { true } else { false }
    }
  }

  func exitStatistics(of vcpu: VirtualCPU) -> ExitStatistics {
    let call = script.take("exitStatistics") {
      if case .exitStatistics = $0 { true } else { false }
    }
    if case .exitStatistics(let counts)? = call { return TraceExitCount.statistics(counts) }
    return ExitStatistics()
  }
}

/// The guest clock as the trace recorded it: while a record is replayed, each read a device
/// model makes is answered with the next recorded `clockRead` (another question there is a
/// divergence); before the first record, while the VM is built, it reads the clock value
/// the header holds, as the recording VM's devices did (RecordingClock).
final class ReplayClock: GuestClock {
  let ticksPerSecond: UInt64
  private var last: UInt64
  /// The record being replayed; nil between records.
  var script: ReplayGuest.Script?

  init(buildTime: UInt64, ticksPerSecond: UInt64) {
    last = buildTime
    self.ticksPerSecond = ticksPerSecond
  }

  var now: UInt64 {
    guard let script else { return last }
    let call = script.take("the guest clock") {
      if case .clockRead = $0 { true } else { false }
    }
    if case .clockRead(let value)? = call { last = value }
    return last
  }
}
