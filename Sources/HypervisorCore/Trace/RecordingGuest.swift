/// The backend's guest state, with every question a handler asks and its answer written to
/// the exit trace. The dispatcher is generic over GuestStateAccess, so a traced exit runs a
/// copy of the dispatcher specialized for this wrapper; untraced exits never see it.
struct RecordingGuest<Inner: GuestStateAccess>: GuestStateAccess {
  var inner: Inner
  let trace: ExitTraceRecorder

  func mode() -> GuestMode {
    let mode = inner.mode()
    trace.note(.mode(mode))
    return mode
  }

  func instructionFetchKey(rip: UInt64) -> InstructionFetchKey {
    let key = inner.instructionFetchKey(rip: rip)
    trace.note(
      .instructionFetchKey(
        rip: rip, key: TraceFetchKey(linear: key.linear, addressSpace: key.addressSpace)))
    return key
  }

  var privilegeLevel: UInt8 {
    let level = inner.privilegeLevel
    trace.note(.privilegeLevel(level))
    return level
  }

  func readStateMSR(_ index: UInt32) -> UInt64? {
    let value = inner.readStateMSR(index)
    trace.note(.readStateMSR(index: index, value: value))
    return value
  }

  mutating func writeStateMSR(_ index: UInt32, _ value: UInt64) -> Bool {
    let accepted = inner.writeStateMSR(index, value)
    trace.note(.writeStateMSR(index: index, value: value, accepted: accepted))
    return accepted
  }

  func readControlRegister(_ number: UInt8) -> UInt64 {
    let value = inner.readControlRegister(number)
    trace.note(.readControlRegister(number: number, value: value))
    return value
  }

  mutating func writeControlRegister(_ number: UInt8, _ value: UInt64) -> Bool {
    let accepted = inner.writeControlRegister(number, value)
    trace.note(.writeControlRegister(number: number, value: value, accepted: accepted))
    return accepted
  }

  var holdsPAEPointers: Bool {
    let holds = inner.holdsPAEPointers
    trace.note(.holdsPAEPointers(holds))
    return holds
  }

  mutating func loadPAEPointers(_ pointers: PAEDirectoryPointers) {
    inner.loadPAEPointers(pointers)
    trace.note(.loadPAEPointers(pointers))
  }

  func hostCPUID(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf {
    let result = inner.hostCPUID(leaf: leaf, subleaf: subleaf)
    trace.note(.hostCPUID(leaf: leaf, subleaf: subleaf, result: result))
    return result
  }

  func guestTimeStampCounter() -> UInt64 {
    let value = inner.guestTimeStampCounter()
    trace.note(.guestTimeStampCounter(value))
    return value
  }

  var timeStampCounterOffset: UInt64 {
    let value = inner.timeStampCounterOffset
    trace.note(.timeStampCounterOffset(value))
    return value
  }

  mutating func setFaultAddress(_ linear: UInt64) {
    inner.setFaultAddress(linear)
    trace.note(.setFaultAddress(linear))
  }

  mutating func setGuestTimeStampCounter(_ value: UInt64) {
    inner.setGuestTimeStampCounter(value)
    trace.note(.setGuestTimeStampCounter(value))
  }

  func exitStatistics(of vcpu: VirtualCPU) -> ExitStatistics {
    let statistics = inner.exitStatistics(of: vcpu)
    trace.note(.exitStatistics(TraceExitCount.of(statistics)))
    return statistics
  }
}
