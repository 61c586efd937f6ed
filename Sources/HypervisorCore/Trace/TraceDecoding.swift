/// The inverse of TraceEncoding: every tag is checked, an unknown one is `invalidValue`.
enum TraceDecoding {
  static func registers(_ reader: inout StateReader) throws(StateDecodingError) -> GuestRegisters {
    var registers = GuestRegisters()
    for number in 0..<16 { registers[number] = try reader.u64() }
    registers.rip = try reader.u64()
    registers.rflags = try reader.u64()
    return registers
  }

  static func changedRegisters(from base: GuestRegisters, _ reader: inout StateReader)
    throws(StateDecodingError) -> GuestRegisters
  {
    let mask = try reader.u32()
    try reader.check(mask >> 18 == 0, fieldSize: 4)
    var registers = base
    for slot in 0..<18 where mask & (1 << UInt32(slot)) != 0 {
      let value = try reader.u64()
      switch slot {
      case 16: registers.rip = value
      case 17: registers.rflags = value
      default: registers[slot] = value
      }
    }
    return registers
  }

  static func optionalU8(_ reader: inout StateReader) throws(StateDecodingError) -> UInt8? {
    let present = try reader.bool()
    let value = try reader.u8()
    return present ? value : nil
  }

  static func exit(_ reader: inout StateReader) throws(StateDecodingError) -> VMExit {
    let length = try optionalU8(&reader)
    let interrupted = try optionalU8(&reader)
    let tag = try reader.u8()
    // A dirty-log exit never reaches a handler, so never a trace.
    guard let kind = ExitKind(rawValue: tag), kind != .dirtyLog else {
      throw .invalidValue(at: reader.position - 1)
    }
    let reason: ExitReason
    switch kind {
    case .cpuid: reason = .cpuid
    case .msrRead: reason = .msrRead
    case .msrWrite: reason = .msrWrite
    case .halt: reason = .halt
    case .pause: reason = .pause
    case .hypercall: reason = .hypercall
    case .externalInterrupt: reason = .externalInterrupt
    case .nmi: reason = .nmi
    case .interruptWindow: reason = .interruptWindow
    case .shutdown: reason = .shutdown
    case .initSignal: reason = .initSignal
    case .preemptionTimer: reason = .preemptionTimer
    case .xsetbv: reason = .xsetbv
    case .invalidateCaches: reason = .invalidateCaches
    case .dirtyLog: throw .invalidValue(at: reader.position - 1)
    case .portIO:
      let port = try reader.u16()
      let size = try reader.u8()
      try reader.check(size == 1 || size == 2 || size == 4, fieldSize: 1)
      let write = try reader.bool()
      let string = try reader.bool()
      let repeated = try reader.bool()
      reason = .portIO(
        PortAccess(
          port: port, size: size, direction: write ? .write : .read, isString: string,
          isRepeated: repeated))
    case .nestedPageFault:
      let physical = try reader.u64()
      let hasLinear = try reader.bool()
      let linear = try reader.u64()
      let access = try self.access(&reader)
      let mapped = try reader.bool()
      reason = .nestedPageFault(
        NestedPageFault(
          guestPhysical: physical, guestLinear: hasLinear ? linear : nil, access: access,
          wasMapped: mapped))
    case .exception:
      let vector = try reader.u8()
      let hasCode = try reader.bool()
      let code = try reader.u32()
      reason = .exception(vector: vector, errorCode: hasCode ? code : nil)
    case .controlRegisterAccess:
      let register = try reader.u8()
      // Any value: SVM without decode assists leaves it unknown (0xFF) for the handler.
      let general = try reader.u8()
      let kindTag = try reader.u8()
      let accessKind: ControlRegisterAccess.Kind
      switch kindTag {
      case 0: accessKind = .write
      case 1: accessKind = .read
      case 2: accessKind = .clts
      case 3: accessKind = .lmsw(sourceData: try reader.u16())
      default: throw .invalidValue(at: reader.position - 1)
      }
      reason = .controlRegisterAccess(
        ControlRegisterAccess(register: register, kind: accessKind, generalRegister: general))
    case .startupIPI: reason = .startupIPI(vector: try reader.u8())
    case .entryFailure: reason = .entryFailure(code: try reader.u64())
    case .unknown: reason = .unknown(vendorCode: try reader.u64())
    }
    return VMExit(reason: reason, instructionLength: length, interruptedEventVector: interrupted)
  }

  static func access(_ reader: inout StateReader) throws(StateDecodingError)
    -> NestedPageFault.Access
  {
    switch try reader.u8() {
    case 0: return .read
    case 1: return .write
    case 2: return .instructionFetch
    default: throw .invalidValue(at: reader.position - 1)
    }
  }

  static func mode(_ reader: inout StateReader) throws(StateDecodingError) -> GuestMode {
    let width: GuestMode.Width
    switch try reader.u8() {
    case 0: width = .real
    case 1: width = .protected16
    case 2: width = .protected32
    case 3: width = .long64
    default: throw .invalidValue(at: reader.position - 1)
    }
    var mode = GuestMode(width: width)
    mode.codeSegmentBase = try reader.u64()
    mode.dataSegmentBase = try reader.u64()
    mode.extraSegmentBase = try reader.u64()
    mode.stackSegmentBase = try reader.u64()
    mode.fsBase = try reader.u64()
    mode.gsBase = try reader.u64()
    mode.cr0 = try reader.u64()
    mode.cr3 = try reader.u64()
    mode.cr4 = try reader.u64()
    mode.efer = try reader.u64()
    return mode
  }

  static func call(_ reader: inout StateReader) throws(StateDecodingError) -> TraceGuestCall {
    switch try reader.u8() {
    case 0: return .mode(try mode(&reader))
    case 1:
      let rip = try reader.u64()
      let linear = try reader.u64()
      let space = try reader.u64()
      return .instructionFetchKey(rip: rip, key: TraceFetchKey(linear: linear, addressSpace: space))
    case 2: return .privilegeLevel(try reader.u8())
    case 3:
      let index = try reader.u32()
      let present = try reader.bool()
      let value = try reader.u64()
      return .readStateMSR(index: index, value: present ? value : nil)
    case 4:
      let index = try reader.u32()
      let value = try reader.u64()
      return .writeStateMSR(index: index, value: value, accepted: try reader.bool())
    case 5:
      let number = try reader.u8()
      return .readControlRegister(number: number, value: try reader.u64())
    case 6:
      let number = try reader.u8()
      let value = try reader.u64()
      return .writeControlRegister(number: number, value: value, accepted: try reader.bool())
    case 7: return .holdsPAEPointers(try reader.bool())
    case 8:
      let entry0 = try reader.u64()
      let entry1 = try reader.u64()
      let entry2 = try reader.u64()
      let entry3 = try reader.u64()
      return .loadPAEPointers(PAEDirectoryPointers(entry0, entry1, entry2, entry3))
    case 9:
      let leaf = try reader.u32()
      let subleaf = try reader.u32()
      let eax = try reader.u32()
      let ebx = try reader.u32()
      let ecx = try reader.u32()
      let edx = try reader.u32()
      return .hostCPUID(
        leaf: leaf, subleaf: subleaf, result: CPUIDLeaf(eax: eax, ebx: ebx, ecx: ecx, edx: edx))
    case 10: return .guestTimeStampCounter(try reader.u64())
    case 11: return .timeStampCounterOffset(try reader.u64())
    case 12: return .setFaultAddress(try reader.u64())
    case 13: return .setGuestTimeStampCounter(try reader.u64())
    case 14: return .clockRead(try reader.u64())
    case 15:
      let count = Int(try reader.u8())
      try reader.check(count <= ExitKind.count, fieldSize: 1)
      var counts: [TraceExitCount] = []
      for _ in 0..<count {
        let kind = try reader.u8()
        guard ExitKind(rawValue: kind) != nil else { throw .invalidValue(at: reader.position - 1) }
        let number = try reader.u64()
        counts.append(TraceExitCount(kind: kind, count: number, cycles: try reader.u64()))
      }
      return .exitStatistics(counts)
    default: throw .invalidValue(at: reader.position - 1)
    }
  }

  static func outcome(_ reader: inout StateReader) throws(StateDecodingError) -> ExitOutcome {
    switch try reader.u8() {
    case 0: return .resume
    case 1: return .halt
    case 2: return .yield
    case 3: return .stop(try stopReason(&reader))
    default: throw .invalidValue(at: reader.position - 1)
    }
  }

  static func stopReason(_ reader: inout StateReader) throws(StateDecodingError) -> StopReason {
    switch try reader.u8() {
    case 0: return .guestRequested(code: try reader.u64())
    case 1: return .poweredOff
    case 2: return .reset
    case 3: return .haltedWithInterruptsDisabled
    case 4: return .haltedWithoutInterruptSource
    case 5: return .shutdown
    case 6:
      let address = try reader.u64()
      let access = try self.access(&reader)
      return .unmappedAccess(
        guestPhysical: address, access: access, beyondMemory: try reader.bool())
    case 7:
      let address = try reader.u64()
      return .unsupportedMMIOInstruction(guestPhysical: address, opcode: try reader.u8())
    case 8:
      let vector = try reader.u8()
      return .eventDeliveryFailed(vector: vector, guestPhysical: try reader.u64())
    case 9:
      let port = try reader.u16()
      return .stringIOOperandNotRAM(port: port, guestLinear: try reader.u64())
    case 10: return .instructionFetchFailed(rip: try reader.u64())
    case 11: return .unexpectedExit(vendorCode: try reader.u64())
    case 12: return .entryFailure(code: try reader.u64())
    case 13: return .exitStorm(exits: try reader.u64())
    case 14: return .operatorRequest
    case 15: return .debugExit(value: try reader.u64())
    default: throw .invalidValue(at: reader.position - 1)
    }
  }

  static func pendingEvent(_ reader: inout StateReader) throws(StateDecodingError) -> PendingEvent?
  {
    switch try reader.u8() {
    case 0: return nil
    case 1:
      let vector = try reader.u8()
      let hasCode = try reader.bool()
      let code = try reader.u32()
      return .exception(vector: vector, errorCode: hasCode ? code : nil)
    case 2: return .externalInterrupt(vector: try reader.u8())
    case 3: return .nmi
    default: throw .invalidValue(at: reader.position - 1)
    }
  }
}
