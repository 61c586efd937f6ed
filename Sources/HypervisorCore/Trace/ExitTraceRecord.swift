/// One handled exit as the exit tracer saw it (docs/exit-trace.md): enough to run the same
/// handler again on the host, with no guest memory image and no device model, and check
/// that it decides the same.
public struct ExitTraceRecord: Equatable {
  public var vcpu: UInt16
  public var exit: VMExit
  /// The register file before the handler ran and after (RIP already advanced).
  public var before: GuestRegisters
  public var after: GuestRegisters
  /// Every question the handler asked of the backend's guest state, in order, with the
  /// backend's answer (control registers, mode, host CPUID, TSC, vendor MSRs).
  public var guestCalls: [TraceGuestCall]
  /// Guest-physical bytes the handler could read (the instruction at RIP and the
  /// page-table entries that map it, PAE pointers), as they were before it ran.
  public var memory: [TraceMemoryChunk]
  public var outcome: ExitOutcome
  /// The event the handler left for the next entry (an exception to deliver), if any.
  public var pendingEvent: PendingEvent?

  public init(
    vcpu: UInt16, exit: VMExit, before: GuestRegisters, after: GuestRegisters,
    guestCalls: [TraceGuestCall] = [], memory: [TraceMemoryChunk] = [],
    outcome: ExitOutcome = .resume, pendingEvent: PendingEvent? = nil
  ) {
    self.vcpu = vcpu
    self.exit = exit
    self.before = before
    self.after = after
    self.guestCalls = guestCalls
    self.memory = memory
    self.outcome = outcome
    self.pendingEvent = pendingEvent
  }
}

/// Guest-physical bytes as they were when the exit was taken.
public struct TraceMemoryChunk: Equatable {
  public var guestPhysical: UInt64
  public var bytes: [UInt8]

  public init(guestPhysical: UInt64, bytes: [UInt8]) {
    self.guestPhysical = guestPhysical
    self.bytes = bytes
  }

  /// The longest chunk a record holds: 64 4-byte elements of a string I/O exit. Page-sized
  /// reads (the code-page cache) are not copied; the decoder refuses longer chunks.
  public static let maximumLength = 256
}

/// One call of a handler into `GuestStateAccess`, with what the backend answered.
public enum TraceGuestCall: Equatable {
  case mode(GuestMode)
  case instructionFetchKey(rip: UInt64, key: TraceFetchKey)
  case privilegeLevel(UInt8)
  case readStateMSR(index: UInt32, value: UInt64?)
  case writeStateMSR(index: UInt32, value: UInt64, accepted: Bool)
  case readControlRegister(number: UInt8, value: UInt64)
  case writeControlRegister(number: UInt8, value: UInt64, accepted: Bool)
  case holdsPAEPointers(Bool)
  case loadPAEPointers(PAEDirectoryPointers)
  case hostCPUID(leaf: UInt32, subleaf: UInt32, result: CPUIDLeaf)
  case guestTimeStampCounter(UInt64)
  case timeStampCounterOffset(UInt64)
  case setFaultAddress(UInt64)
  case setGuestTimeStampCounter(UInt64)
}

/// `InstructionFetchKey` as a value the trace can compare.
public struct TraceFetchKey: Equatable {
  public var linear: UInt64
  public var addressSpace: UInt64

  public init(linear: UInt64, addressSpace: UInt64) {
    self.linear = linear
    self.addressSpace = addressSpace
  }
}
