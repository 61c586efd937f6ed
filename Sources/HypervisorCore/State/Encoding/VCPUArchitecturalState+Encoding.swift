/// The vCPU record's payload, in the order of docs/vm-state.md's table.
extension VCPUArchitecturalState: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .vcpu }
  /// No MSR policy lets a guest keep more.
  public static let maximumShadowMSRs = 256

  public func encodePayload(into writer: inout StateWriter) {
    for number in 0..<16 { writer.u64(registers[number]) }
    writer.u64(registers.rip)
    writer.u64(registers.rflags)
    for value in [cr0, cr2, cr3, cr4, cr8, efer] { writer.u64(value) }
    for segment in [es, cs, ss, ds, fs, gs, ldtr, tr] {
      writer.u16(segment.selector)
      writer.u16(segment.attributes.rawValue)
      writer.u32(segment.limit)
      writer.u64(segment.base)
    }
    for table in [gdtr, idtr] {
      writer.u16(table.limit)
      writer.u64(table.base)
    }
    for value in [
      dr6, dr7, sysenterCS, sysenterESP, sysenterEIP, star, lstar, cstar, sfmask, kernelGSBase,
      pat, tscOffset,
    ] {
      writer.u64(value)
    }
    Self.encode(pendingEvent, into: &writer)
    writer.bool(nmiBlocked)
    writer.u8(interruptShadow.rawValue)
    writer.u8(Self.activityCode(activity))
    var image = floatingPoint
    if image.count != Self.floatingPointSize { image = Self.initialFloatingPoint }
    writer.raw(image)
    let msrs = shadowMSRs.prefix(Self.maximumShadowMSRs)
    writer.u16(UInt16(msrs.count))
    for msr in msrs {
      writer.u32(msr.index)
      writer.u64(msr.value)
    }
    // Version 3: IA32_TSC_AUX, PKRU and IA32_PKRS.
    writer.u64(timeStampCounterAuxiliary)
    writer.u32(protectionKeyRights)
    writer.u32(supervisorProtectionKeyRights)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> VCPUArchitecturalState
  {
    var state = VCPUArchitecturalState()
    for number in 0..<16 { state.registers[number] = try reader.u64() }
    state.registers.rip = try reader.u64()
    state.registers.rflags = try reader.u64()
    state.cr0 = try reader.u64()
    state.cr2 = try reader.u64()
    state.cr3 = try reader.u64()
    state.cr4 = try reader.u64()
    state.cr8 = try reader.u64()
    try reader.check(state.cr8 <= 0xF, fieldSize: 8)  // CR8 holds TPR[7:4] only
    state.efer = try reader.u64()
    var segments: [SegmentState] = []
    for _ in 0..<8 {
      let selector = try reader.u16()
      let attributes = try reader.u16()
      try reader.check(attributes <= 0xFFF, fieldSize: 2)
      let limit = try reader.u32()
      let base = try reader.u64()
      segments.append(
        SegmentState(
          selector: selector, base: base, limit: limit,
          attributes: SegmentAttributes(rawValue: attributes)))
    }
    state.es = segments[0]
    state.cs = segments[1]
    state.ss = segments[2]
    state.ds = segments[3]
    state.fs = segments[4]
    state.gs = segments[5]
    state.ldtr = segments[6]
    state.tr = segments[7]
    let gdtrLimit = try reader.u16()
    state.gdtr = DescriptorTableState(base: try reader.u64(), limit: gdtrLimit)
    let idtrLimit = try reader.u16()
    state.idtr = DescriptorTableState(base: try reader.u64(), limit: idtrLimit)
    state.dr6 = try reader.u64()
    state.dr7 = try reader.u64()
    state.sysenterCS = try reader.u64()
    state.sysenterESP = try reader.u64()
    state.sysenterEIP = try reader.u64()
    state.star = try reader.u64()
    state.lstar = try reader.u64()
    state.cstar = try reader.u64()
    state.sfmask = try reader.u64()
    state.kernelGSBase = try reader.u64()
    state.pat = try reader.u64()
    state.tscOffset = try reader.u64()
    state.pendingEvent = try decodeEvent(from: &reader)
    state.nmiBlocked = try reader.bool()
    let shadow = InterruptShadow(rawValue: try reader.u8())
    try reader.check(shadow != nil, fieldSize: 1)
    state.interruptShadow = shadow ?? .none
    let activity = activity(code: try reader.u8())
    try reader.check(activity != nil, fieldSize: 1)
    state.activity = activity ?? .runnable
    state.floatingPoint = try reader.raw(count: floatingPointSize)
    let count = try reader.count16(maximum: maximumShadowMSRs, elementSize: 12)
    state.shadowMSRs = []
    for _ in 0..<count {
      let index = try reader.u32()
      state.shadowMSRs.append(ShadowMSR(index: index, value: try reader.u64()))
    }
    let auxiliary = try reader.u64()
    try reader.check(auxiliary >> 32 == 0, fieldSize: 8)  // TSC_AUX bits 63:32 are reserved
    state.timeStampCounterAuxiliary = auxiliary
    state.protectionKeyRights = try reader.u32()
    state.supervisorProtectionKeyRights = try reader.u32()
    return state
  }

  /// Tag (0 none, 1 exception, 2 exception with error code, 3 external interrupt, 4 NMI),
  /// vector, error code: six bytes whatever the tag.
  static func encode(_ event: PendingEvent?, into writer: inout StateWriter) {
    let (tag, vector, errorCode): (UInt8, UInt8, UInt32)
    switch event {
    case nil: (tag, vector, errorCode) = (0, 0, 0)
    case .exception(let number, nil): (tag, vector, errorCode) = (1, number, 0)
    case .exception(let number, let code?): (tag, vector, errorCode) = (2, number, code)
    case .externalInterrupt(let number): (tag, vector, errorCode) = (3, number, 0)
    case .nmi: (tag, vector, errorCode) = (4, 2, 0)
    }
    writer.u8(tag)
    writer.u8(vector)
    writer.u32(errorCode)
  }

  static func decodeEvent(from reader: inout StateReader) throws(StateDecodingError)
    -> PendingEvent?
  {
    let tagAt = reader.position
    let tag = try reader.u8()
    let vector = try reader.u8()
    let errorCode = try reader.u32()
    // Unused fields are zero (the NMI's vector 2), so that one state has one encoding.
    // Exceptions are vectors 0-31 (SDM 3A §6.3.1); an external interrupt is 16-255.
    switch tag {
    case 0 where vector == 0 && errorCode == 0: return nil
    case 1 where vector < 32 && errorCode == 0: return .exception(vector: vector, errorCode: nil)
    case 2 where vector < 32: return .exception(vector: vector, errorCode: errorCode)
    case 3 where vector >= 16 && errorCode == 0: return .externalInterrupt(vector: vector)
    case 4 where vector == 2 && errorCode == 0: return .nmi
    default: throw .invalidValue(at: tagAt)
    }
  }

  static func activityCode(_ activity: VirtualCPU.State) -> UInt8 {
    switch activity {
    case .runnable: return 0
    case .halted: return 1
    case .waitingForStartup: return 2
    case .stopped: return 3
    }
  }

  static func activity(code: UInt8) -> VirtualCPU.State? {
    switch code {
    case 0: return .runnable
    case 1: return .halted
    case 2: return .waitingForStartup
    case 3: return .stopped
    default: return nil
    }
  }
}
