/// The binary form of one record (docs/exit-trace.md): little-endian fields, each variant a
/// one-byte tag. Decoding checks every tag and count: a damaged record is an error, never a
/// guess.
extension ExitTraceRecord {
  /// `previous`: the registers after this vCPU's previous record (a fresh GuestRegisters
  /// for its first): the registers before are written as the change from them.
  public func encode(into writer: inout StateWriter, previous: GuestRegisters) {
    writer.u16(vcpu)
    TraceEncoding.exit(exit, into: &writer)
    TraceEncoding.changedRegisters(before, from: previous, into: &writer)
    TraceEncoding.changedRegisters(after, from: before, into: &writer)
    writer.u16(UInt16(truncatingIfNeeded: guestCalls.count))
    for call in guestCalls { TraceEncoding.call(call, into: &writer) }
    writer.u16(UInt16(truncatingIfNeeded: memory.count))
    for chunk in memory {
      writer.u64(chunk.guestPhysical)
      writer.u16(UInt16(truncatingIfNeeded: chunk.bytes.count))
      writer.raw(chunk.bytes)
    }
    TraceEncoding.outcome(outcome, into: &writer)
    TraceEncoding.pendingEvent(pendingEvent, into: &writer)
    writer.bool(interruptsBefore != nil)
    interruptsBefore?.encode(into: &writer)
  }

  /// `previous(vcpu)`: the registers after that vCPU's previous record, as in `encode`.
  public static func decode(
    from reader: inout StateReader, previous: (UInt16) -> GuestRegisters
  ) throws(StateDecodingError) -> ExitTraceRecord {
    let vcpu = try reader.u16()
    let exit = try TraceDecoding.exit(&reader)
    let before = try TraceDecoding.changedRegisters(from: previous(vcpu), &reader)
    let after = try TraceDecoding.changedRegisters(from: before, &reader)
    var calls: [TraceGuestCall] = []
    let callCount = try reader.count16(maximum: maximumCalls, elementSize: 2)
    for _ in 0..<callCount { calls.append(try TraceDecoding.call(&reader)) }
    var memory: [TraceMemoryChunk] = []
    let chunkCount = try reader.count16(maximum: maximumChunks, elementSize: 11)
    for _ in 0..<chunkCount {
      let address = try reader.u64()
      let length = Int(try reader.u16())
      try reader.check(length > 0 && length <= TraceMemoryChunk.maximumLength, fieldSize: 2)
      memory.append(TraceMemoryChunk(guestPhysical: address, bytes: try reader.raw(count: length)))
    }
    let outcome = try TraceDecoding.outcome(&reader)
    let pending = try TraceDecoding.pendingEvent(&reader)
    let interrupts = try reader.bool() ? try TraceInterruptState.decode(&reader) : nil
    return ExitTraceRecord(
      vcpu: vcpu, exit: exit, before: before, after: after, guestCalls: calls, memory: memory,
      outcome: outcome, pendingEvent: pending, interruptsBefore: interrupts)
  }

  /// Bounds a record's lists: one exit asks a handful of questions and reads a few chunks.
  public static let maximumCalls = 64
  public static let maximumChunks = 32
}

enum TraceEncoding {
  static func registers(_ registers: GuestRegisters, into writer: inout StateWriter) {
    for number in 0..<16 { writer.u64(registers[number]) }
    writer.u64(registers.rip)
    writer.u64(registers.rflags)
  }

  /// A mask of the registers (x86 numbers 0-15, then RIP 16, RFLAGS 17) that differ from
  /// `base`, then their values: most exits change RIP and a register or two.
  static func changedRegisters(
    _ registers: GuestRegisters, from base: GuestRegisters, into writer: inout StateWriter
  ) {
    var mask: UInt32 = 0
    for slot in 0..<18 where slotValue(registers, slot) != slotValue(base, slot) {
      mask |= 1 << UInt32(slot)
    }
    writer.u32(mask)
    for slot in 0..<18 where mask & (1 << UInt32(slot)) != 0 {
      writer.u64(slotValue(registers, slot))
    }
  }

  static func slotValue(_ registers: GuestRegisters, _ slot: Int) -> UInt64 {
    switch slot {
    case 16: return registers.rip
    case 17: return registers.rflags
    default: return registers[slot]
    }
  }

  static func optionalU8(_ value: UInt8?, into writer: inout StateWriter) {
    writer.bool(value != nil)
    writer.u8(value ?? 0)
  }

  static func exit(_ exit: VMExit, into writer: inout StateWriter) {
    optionalU8(exit.instructionLength, into: &writer)
    optionalU8(exit.interruptedEventVector, into: &writer)
    writer.u8(exit.reason.kind.rawValue)
    switch exit.reason {
    case .portIO(let access):
      writer.u16(access.port)
      writer.u8(access.size)
      writer.bool(access.direction == .write)
      writer.bool(access.isString)
      writer.bool(access.isRepeated)
    case .nestedPageFault(let fault):
      writer.u64(fault.guestPhysical)
      writer.bool(fault.guestLinear != nil)
      writer.u64(fault.guestLinear ?? 0)
      access(fault.access, into: &writer)
      writer.bool(fault.wasMapped)
    case .exception(let vector, let errorCode):
      writer.u8(vector)
      writer.bool(errorCode != nil)
      writer.u32(errorCode ?? 0)
    case .controlRegisterAccess(let access):
      writer.u8(access.register)
      writer.u8(access.generalRegister)
      switch access.kind {
      case .write: writer.u8(0)
      case .read: writer.u8(1)
      case .clts: writer.u8(2)
      case .lmsw(let data):
        writer.u8(3)
        writer.u16(data)
      }
    case .startupIPI(let vector): writer.u8(vector)
    case .entryFailure(let code): writer.u64(code)
    case .unknown(let code): writer.u64(code)
    case .cpuid, .msrRead, .msrWrite, .halt, .pause, .hypercall, .externalInterrupt, .nmi,
      .interruptWindow, .shutdown, .initSignal, .preemptionTimer, .xsetbv, .invalidateCaches:
      break
    }
  }

  static func access(_ access: NestedPageFault.Access, into writer: inout StateWriter) {
    switch access {
    case .read: writer.u8(0)
    case .write: writer.u8(1)
    case .instructionFetch: writer.u8(2)
    }
  }

  static func mode(_ mode: GuestMode, into writer: inout StateWriter) {
    switch mode.width {
    case .real: writer.u8(0)
    case .protected16: writer.u8(1)
    case .protected32: writer.u8(2)
    case .long64: writer.u8(3)
    }
    for value in [
      mode.codeSegmentBase, mode.dataSegmentBase, mode.extraSegmentBase, mode.stackSegmentBase,
      mode.fsBase, mode.gsBase, mode.cr0, mode.cr3, mode.cr4, mode.efer,
    ] {
      writer.u64(value)
    }
  }

  static func call(_ call: TraceGuestCall, into writer: inout StateWriter) {
    switch call {
    case .mode(let mode):
      writer.u8(0)
      self.mode(mode, into: &writer)
    case .instructionFetchKey(let rip, let key):
      writer.u8(1)
      writer.u64(rip)
      writer.u64(key.linear)
      writer.u64(key.addressSpace)
    case .privilegeLevel(let level):
      writer.u8(2)
      writer.u8(level)
    case .readStateMSR(let index, let value):
      writer.u8(3)
      writer.u32(index)
      writer.bool(value != nil)
      writer.u64(value ?? 0)
    case .writeStateMSR(let index, let value, let accepted):
      writer.u8(4)
      writer.u32(index)
      writer.u64(value)
      writer.bool(accepted)
    case .readControlRegister(let number, let value):
      writer.u8(5)
      writer.u8(number)
      writer.u64(value)
    case .writeControlRegister(let number, let value, let accepted):
      writer.u8(6)
      writer.u8(number)
      writer.u64(value)
      writer.bool(accepted)
    case .holdsPAEPointers(let holds):
      writer.u8(7)
      writer.bool(holds)
    case .loadPAEPointers(let pointers):
      writer.u8(8)
      writer.u64(pointers.entry0)
      writer.u64(pointers.entry1)
      writer.u64(pointers.entry2)
      writer.u64(pointers.entry3)
    case .hostCPUID(let leaf, let subleaf, let result):
      writer.u8(9)
      writer.u32(leaf)
      writer.u32(subleaf)
      writer.u32(result.eax)
      writer.u32(result.ebx)
      writer.u32(result.ecx)
      writer.u32(result.edx)
    case .guestTimeStampCounter(let value):
      writer.u8(10)
      writer.u64(value)
    case .timeStampCounterOffset(let value):
      writer.u8(11)
      writer.u64(value)
    case .setFaultAddress(let value):
      writer.u8(12)
      writer.u64(value)
    case .setGuestTimeStampCounter(let value):
      writer.u8(13)
      writer.u64(value)
    case .clockRead(let value):
      writer.u8(14)
      writer.u64(value)
    case .exitStatistics(let counts):
      writer.u8(15)
      writer.u8(UInt8(truncatingIfNeeded: counts.count))
      for entry in counts {
        writer.u8(entry.kind)
        writer.u64(entry.count)
        writer.u64(entry.cycles)
      }
    }
  }

  static func outcome(_ outcome: ExitOutcome, into writer: inout StateWriter) {
    switch outcome {
    case .resume: writer.u8(0)
    case .halt: writer.u8(1)
    case .yield: writer.u8(2)
    case .stop(let reason):
      writer.u8(3)
      stopReason(reason, into: &writer)
    }
  }

  static func stopReason(_ reason: StopReason, into writer: inout StateWriter) {
    switch reason {
    case .guestRequested(let code):
      writer.u8(0)
      writer.u64(code)
    case .poweredOff: writer.u8(1)
    case .reset: writer.u8(2)
    case .haltedWithInterruptsDisabled: writer.u8(3)
    case .haltedWithoutInterruptSource: writer.u8(4)
    case .shutdown: writer.u8(5)
    case .unmappedAccess(let address, let access, let beyond):
      writer.u8(6)
      writer.u64(address)
      self.access(access, into: &writer)
      writer.bool(beyond)
    case .unsupportedMMIOInstruction(let address, let opcode):
      writer.u8(7)
      writer.u64(address)
      writer.u8(opcode)
    case .eventDeliveryFailed(let vector, let address):
      writer.u8(8)
      writer.u8(vector)
      writer.u64(address)
    case .stringIOOperandNotRAM(let port, let linear):
      writer.u8(9)
      writer.u16(port)
      writer.u64(linear)
    case .instructionFetchFailed(let rip):
      writer.u8(10)
      writer.u64(rip)
    case .unexpectedExit(let code):
      writer.u8(11)
      writer.u64(code)
    case .entryFailure(let code):
      writer.u8(12)
      writer.u64(code)
    case .exitStorm(let exits):
      writer.u8(13)
      writer.u64(exits)
    case .operatorRequest: writer.u8(14)
    case .debugExit(let value):
      writer.u8(15)
      writer.u64(value)
    }
  }

  static func pendingEvent(_ event: PendingEvent?, into writer: inout StateWriter) {
    switch event {
    case nil: writer.u8(0)
    case .exception(let vector, let errorCode)?:
      writer.u8(1)
      writer.u8(vector)
      writer.bool(errorCode != nil)
      writer.u32(errorCode ?? 0)
    case .externalInterrupt(let vector)?:
      writer.u8(2)
      writer.u8(vector)
    case .nmi?: writer.u8(3)
    }
  }
}
