/// A VM's exit tracer (`trace=N` in its profile; docs/exit-trace.md): the first N exits of
/// each vCPU, each with the exit, the registers before and after, what the handler asked of
/// the backend, the guest memory it read and its outcome, kept encoded until the VM ends.
///
/// A traced exit goes through `dispatch` instead of the dispatcher directly; a VM without
/// a tracer costs the run loop one test of `VirtualMachine.exitTrace`. The exits of a traced
/// VM with several vCPUs are serialized (`lock`), so that the guest-memory log (one per VM,
/// fed by GuestMemoryMap) belongs to one exit at a time.
public final class ExitTraceRecorder {
  /// Records per vCPU.
  public let limit: Int
  /// The most bytes a vCPU's records may take; recording stops for it there.
  public let byteLimit: Int
  public let header: ExitTraceHeader
  /// Each vCPU's records, already in the file's form.
  public private(set) var encoded: [[UInt8]]
  public private(set) var counts: [Int]
  /// Exits not recorded because a vCPU's buffer was full.
  public private(set) var dropped: [Int]

  private var calls: [TraceGuestCall] = []
  private var memory: [TraceMemoryChunk] = []
  private var recording = false
  /// The vCPU whose exit is being recorded (meaningful while `recording`).
  private var recordingVCPU = 0
  private var chain = RegisterChain()
  /// Each vCPU's local APIC after its previous recorded exit (TraceInterruptState).
  private var interruptsAfter: [TraceInterruptState?]
  private let lock = TicketLock()
  private let serialized: Bool

  public static let maximumExits = 100_000
  public static let defaultByteLimit = 4 << 20

  /// Bytes each vCPU may record, from the kernel heap's largest free block when the VM is
  /// built: a vCPU's buffer grows by doubling (2x) and the readout copies every vCPU's bytes
  /// twice more, so a trace peaks near 4x what it recorded; an eighth of the free block per
  /// vCPU leaves half the heap to everything else. A profile's trace= thus never exhausts
  /// the heap, which would stop the hypervisor.
  public static func byteLimit(largestFreeHeapBlock: Int, vcpuCount: Int) -> Int {
    min(defaultByteLimit, largestFreeHeapBlock / (8 * max(vcpuCount, 1)))
  }

  public init(limit: Int, header: ExitTraceHeader, byteLimit: Int = defaultByteLimit) {
    self.limit = limit
    self.byteLimit = byteLimit
    self.header = header
    let vcpus = Int(header.vcpuCount)
    encoded = Array(repeating: [], count: vcpus)
    counts = Array(repeating: 0, count: vcpus)
    dropped = Array(repeating: 0, count: vcpus)
    interruptsAfter = Array(repeating: nil, count: vcpus)
    serialized = vcpus > 1
  }

  /// Whether `vcpu` still records.
  public func isRecording(_ vcpu: Int) -> Bool {
    counts[vcpu] < limit && encoded[vcpu].count < byteLimit
  }

  /// The whole trace as a file (ExitTraceFile), every vCPU's records in vCPU order.
  public func fileBytes() -> [UInt8] {
    var records: [UInt8] = []
    var total = 0
    for index in 0..<encoded.count {
      records.append(contentsOf: encoded[index])
      total += counts[index]
    }
    return ExitTraceFile.assemble(header: header, recordCount: total, encodedRecords: records)
  }

  func note(_ call: TraceGuestCall) {
    if recording && calls.count < ExitTraceRecord.maximumCalls { calls.append(call) }
  }

  /// A device read the guest clock (RecordingClock): part of the exit being recorded when
  /// the clock is VM-wide (devices only exits touch) or belongs to the recorded vCPU.
  func noteClock(_ value: UInt64, vcpu: Int?) {
    guard recording, vcpu == nil || vcpu == recordingVCPU else { return }
    note(.clockRead(value))
  }

  /// GuestMemoryMap's hook while an exit is recorded (`GuestMemoryMap.readLog`). Only
  /// handlers use guest memory while the VM runs (the loaders write it before), and a traced
  /// VM's exits are serialized, so the log belongs to the exit being recorded.
  @inline(never)
  static func noteMemory(
    _ log: UnsafeMutableRawPointer, _ guestPhysical: UInt64, _ pointer: UnsafeMutableRawPointer,
    length: UInt64
  ) {
    Unmanaged<ExitTraceRecorder>.fromOpaque(log).takeUnretainedValue().noteMemory(
      guestPhysical, pointer, length: length)
  }

  /// `length` bytes at `guestPhysical` were handed to a handler. Copied as they are now,
  /// before the handler may change them; page-sized requests (the code-page cache taking a
  /// whole page) are left to the instruction capture before dispatch.
  func noteMemory(_ guestPhysical: UInt64, _ pointer: UnsafeMutableRawPointer, length: UInt64) {
    guard recording, length <= UInt64(TraceMemoryChunk.maximumLength),
      memory.count < ExitTraceRecord.maximumChunks
    else { return }
    for chunk in memory where chunk.guestPhysical == guestPhysical && chunk.bytes.count >= length {
      return
    }
    var bytes: [UInt8] = []
    for index in 0..<Int(length) {
      bytes.append(pointer.load(fromByteOffset: index, as: UInt8.self))
    }
    memory.append(TraceMemoryChunk(guestPhysical: guestPhysical, bytes: bytes))
  }

  /// Handles one exit through the dispatcher, recording it while the vCPU's buffer has room.
  @inline(never)
  public func dispatch<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest,
    console: any ConsoleSink
  ) -> ExitOutcome {
    if serialized { lock.lock() }
    defer { if serialized { lock.unlock() } }
    guard isRecording(vcpu.index) else {
      if counts[vcpu.index] < limit { dropped[vcpu.index] += 1 }
      return ExitDispatcher.dispatch(exit, vcpu: vcpu, vm: vm, guest: &guest, console: console)
    }
    calls.removeAll(keepingCapacity: true)
    memory.removeAll(keepingCapacity: true)
    recordingVCPU = vcpu.index
    recording = true
    vm.memory.readLog = Unmanaged.passUnretained(self).toOpaque()
    let before = vcpu.registers
    let interrupts = vcpu.localAPIC?.traceInterruptState
    let interruptsBefore = interrupts == interruptsAfter[vcpu.index] ? nil : interrupts
    if exit.instructionLength == nil && exit.reason.isGuestCaused {
      // The bytes at RIP and the page-table entries mapping them, read the way the handlers
      // would: the code-page cache, which finds a length the hardware did not report, reads
      // them through host pointers the log does not see.
      _ = InstructionFetcher.fetch(rip: before.rip, mode: guest.mode(), memory: vm.memory)
    }
    var recorder = RecordingGuest(inner: guest, trace: self)
    let outcome = ExitDispatcher.dispatch(
      exit, vcpu: vcpu, vm: vm, guest: &recorder, console: console)
    guest = recorder.inner
    vm.memory.readLog = nil
    recording = false
    let record = ExitTraceRecord(
      vcpu: UInt16(truncatingIfNeeded: vcpu.index), exit: exit, before: before,
      after: vcpu.registers, guestCalls: calls, memory: memory, outcome: outcome,
      pendingEvent: vcpu.pendingEvent, interruptsBefore: interruptsBefore)
    interruptsAfter[vcpu.index] = vcpu.localAPIC?.traceInterruptState
    ExitTraceFile.appendRecord(
      record, previous: chain.previous(record.vcpu), to: &encoded[vcpu.index])
    chain.update(record.vcpu, record.after)
    counts[vcpu.index] += 1
    return outcome
  }
}
