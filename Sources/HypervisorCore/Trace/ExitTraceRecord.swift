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
  /// The vCPU's local APIC as the exit found it, when it changed since the vCPU's previous
  /// record (a timer fired, an interrupt was delivered, an IPI arrived); nil otherwise.
  public var interruptsBefore: TraceInterruptState?

  public init(
    vcpu: UInt16, exit: VMExit, before: GuestRegisters, after: GuestRegisters,
    guestCalls: [TraceGuestCall] = [], memory: [TraceMemoryChunk] = [],
    outcome: ExitOutcome = .resume, pendingEvent: PendingEvent? = nil,
    interruptsBefore: TraceInterruptState? = nil
  ) {
    self.vcpu = vcpu
    self.exit = exit
    self.before = before
    self.after = after
    self.guestCalls = guestCalls
    self.memory = memory
    self.outcome = outcome
    self.pendingEvent = pendingEvent
    self.interruptsBefore = interruptsBefore
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
  /// A device model read the guest clock (a PIT count, the PM timer, an APIC timer's
  /// current count or deadline) while the handler ran: RecordingClock.
  case clockRead(UInt64)
  /// Hypercall 2 asked for the vCPU's exit statistics: the kinds it had taken, with their
  /// counts and cycles, as the hypervisor had them then.
  case exitStatistics([TraceExitCount])
}

/// One exit kind's figures in the answer to hypercall 2.
public struct TraceExitCount: Equatable {
  public var kind: UInt8
  public var count: UInt64
  public var cycles: UInt64

  public init(kind: UInt8, count: UInt64, cycles: UInt64) {
    self.kind = kind
    self.count = count
    self.cycles = cycles
  }

  /// The kinds `statistics` holds, in ExitKind order.
  public static func of(_ statistics: ExitStatistics) -> [TraceExitCount] {
    var counts: [TraceExitCount] = []
    for kind in ExitKind.allCases where statistics.count(kind) > 0 {
      counts.append(
        TraceExitCount(
          kind: kind.rawValue, count: statistics.count(kind), cycles: statistics.cycles(kind)))
    }
    return counts
  }

  /// Statistics holding exactly `counts` (the replay's answer to hypercall 2).
  public static func statistics(_ counts: [TraceExitCount]) -> ExitStatistics {
    let statistics = ExitStatistics()
    for entry in counts {
      guard let kind = ExitKind(rawValue: entry.kind) else { continue }
      statistics.set(kind, count: entry.count, cycles: entry.cycles)
    }
    return statistics
  }
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
