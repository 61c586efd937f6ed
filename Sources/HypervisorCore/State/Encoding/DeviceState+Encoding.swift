/// Device records' payloads: each device's State fields in declaration order. Values a
/// register cannot hold are refused, so that a decoded state restores as it reads.

extension UART16550.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .uart }

  public func encodePayload(into writer: inout StateWriter) {
    for byte in [interruptEnable, lineControl, modemControl, scratch] { writer.u8(byte) }
    writer.u16(divisor)
    writer.u8(fifoControl)
    writer.u64(transmitted)
    writer.bool(transmitterEmptyPending)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    var state = Self()
    state.interruptEnable = try reader.u8()
    try reader.check(state.interruptEnable <= 0x0F, fieldSize: 1)
    state.lineControl = try reader.u8()
    state.modemControl = try reader.u8()
    try reader.check(state.modemControl <= 0x1F, fieldSize: 1)
    state.scratch = try reader.u8()
    state.divisor = try reader.u16()
    state.fifoControl = try reader.u8()
    state.transmitted = try reader.u64()
    state.transmitterEmptyPending = try reader.bool()
    return state
  }
}

extension PIT8254.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .pit }

  public func encodePayload(into writer: inout StateWriter) {
    for index in 0..<3 {
      let channel = index < channels.count ? channels[index] : PIT8254.ChannelState()
      writer.u8(channel.mode)
      writer.u8(channel.access)
      writer.u32(channel.reload)
      writer.bool(channel.counting)
      writer.u64(channel.elapsedNanoseconds)
      writer.bool(channel.writeHigh)
      writer.bool(channel.readHigh)
      writer.bool(channel.latched != nil)
      writer.u16(channel.latched ?? 0)
      writer.u8(channel.pendingLow)
    }
    writer.u8(portB)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    var state = Self()
    for index in 0..<3 {
      var channel = PIT8254.ChannelState()
      channel.mode = try reader.u8()
      try reader.check(channel.mode <= 7, fieldSize: 1)
      channel.access = try reader.u8()
      try reader.check((1...3).contains(channel.access), fieldSize: 1)
      channel.reload = try reader.u32()
      try reader.check((1...0x1_0000).contains(channel.reload), fieldSize: 4)
      channel.counting = try reader.bool()
      channel.elapsedNanoseconds = try reader.u64()
      channel.writeHigh = try reader.bool()
      channel.readHigh = try reader.bool()
      let latched = try reader.bool()
      let value = try reader.u16()
      try reader.check(latched || value == 0, fieldSize: 2)
      channel.latched = latched ? value : nil
      channel.pendingLow = try reader.u8()
      state.channels[index] = channel
    }
    state.portB = try reader.u8()
    try reader.check(state.portB <= 0x0F, fieldSize: 1)
    return state
  }
}

extension LocalAPICModel.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .localAPIC }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u64(baseMSR)
    for value in [
      taskPriority, spurious, logicalDestination, destinationFormat, errorStatus,
      interruptCommandLow, interruptCommandHigh,
    ] {
      writer.u32(value)
    }
    for entry in 0..<6 {
      writer.u32(entry < localVectorTable.count ? localVectorTable[entry] : 0x1_0000)
    }
    writer.u32(initialCount)
    writer.u32(divideConfiguration)
    writer.bool(timerRemainingNanoseconds != nil)
    writer.u64(timerRemainingNanoseconds ?? 0)
    for word in 0..<8 { writer.u32(word < inService.count ? inService[word] : 0) }
    for word in 0..<8 { writer.u32(word < requests.count ? requests[word] : 0) }
    // The NMIs not yet taken, 0...2, in the byte that held a flag (0 or 1) before: a
    // state written then decodes the same, with no version change.
    writer.u8(pendingNMIs)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    var state = Self()
    state.baseMSR = try reader.u64()
    // Only the base (bits 51:12: the guest may move the page, §11.4.5), BSP, EXTD and EN
    // (SDM 3A §11.12.1); EXTD without EN is invalid. Records that only held 0xFEE0_0000
    // decode as before.
    let base = state.baseMSR
    try reader.check(
      base & 0xFFF0_0000_0000_02FF == 0
        && (base & LocalAPICModel.globalEnable != 0 || base & LocalAPICModel.x2APICEnable == 0),
      fieldSize: 8)
    state.taskPriority = try reader.u32()
    try reader.check(state.taskPriority <= 0xFF, fieldSize: 4)
    state.spurious = try reader.u32()
    try reader.check(state.spurious & ~0x13FF == 0, fieldSize: 4)
    state.logicalDestination = try reader.u32()
    try reader.check(state.logicalDestination & 0x00FF_FFFF == 0, fieldSize: 4)
    state.destinationFormat = try reader.u32()
    try reader.check(state.destinationFormat & 0x0FFF_FFFF == 0x0FFF_FFFF, fieldSize: 4)
    state.errorStatus = try reader.u32()
    state.interruptCommandLow = try reader.u32()
    try reader.check(state.interruptCommandLow & ~0x000C_CFFF == 0, fieldSize: 4)
    state.interruptCommandHigh = try reader.u32()
    for entry in 0..<6 {
      let value = try reader.u32()
      try reader.check(value & ~(entry == 0 ? 0x7_10FF : 0x1_17FF) == 0, fieldSize: 4)
      state.localVectorTable[entry] = value
    }
    state.initialCount = try reader.u32()
    state.divideConfiguration = try reader.u32()
    try reader.check(state.divideConfiguration & ~0xB == 0, fieldSize: 4)
    let armed = try reader.bool()
    let remaining = try reader.u64()
    try reader.check(armed || remaining == 0, fieldSize: 8)
    state.timerRemainingNanoseconds = armed ? remaining : nil
    for word in 0..<8 { state.inService[word] = try reader.u32() }
    for word in 0..<8 { state.requests[word] = try reader.u32() }
    state.pendingNMIs = try reader.u8()
    try reader.check(state.pendingNMIs <= LocalAPICModel.maximumPendingNMIs, fieldSize: 1)
    return state
  }
}

extension IOAPICModel.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .ioAPIC }

  /// Version 2: IOREGSEL, the 24 entries (remote IRR, bit 14, included), IOAPICID bits
  /// 27:24 as a u8, the line levels as a u32 (bit per pin).
  public func encodePayload(into writer: inout StateWriter) {
    writer.u32(select)
    for pin in 0..<IOAPICModel.pinCount { writer.u64(pin < entries.count ? entries[pin] : 1 << 16) }
    writer.u8(id)
    writer.u32(lineLevels)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    var state = Self()
    state.select = try reader.u32()
    try reader.check(state.select <= 0xFF, fieldSize: 4)
    for pin in 0..<IOAPICModel.pinCount {
      let entry = try reader.u64()
      try reader.check(entry & 0x1000 == 0, fieldSize: 8)  // delivery status: never kept
      state.entries[pin] = entry
    }
    state.id = try reader.u8()
    try reader.check(state.id <= 0x0F, fieldSize: 1)
    state.lineLevels = try reader.u32()
    try reader.check(state.lineLevels >> UInt32(IOAPICModel.pinCount) == 0, fieldSize: 4)
    return state
  }
}

extension ACPIPowerDevice.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .acpiPower }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u16(status)
    writer.u16(enable)
    writer.u16(control)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    var state = Self()
    state.status = try reader.u16()
    state.enable = try reader.u16()
    state.control = try reader.u16()
    try reader.check(state.control & (1 << 13) == 0 && state.control & 1 == 1, fieldSize: 2)
    return state
  }
}

extension TestMMIODevice.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .testMMIO }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u64(scratch)
    writer.u64(accesses)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    var state = Self()
    state.scratch = try reader.u64()
    state.accesses = try reader.u64()
    return state
  }
}

extension ResetDevice.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .reset }
  public func encodePayload(into writer: inout StateWriter) {}
  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  { Self() }
}

extension DebugExitPort.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .debugExit }
  public func encodePayload(into writer: inout StateWriter) {}
  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  { Self() }
}

extension ACPIPMTimer.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .pmTimer }
  public func encodePayload(into writer: inout StateWriter) { writer.u64(elapsedNanoseconds) }
  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  { Self(elapsedNanoseconds: try reader.u64()) }
}

extension FirmwareConfig.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .firmwareConfig }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u16(selector)
    writer.u32(offset)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    let selector = try reader.u16()
    return Self(selector: selector, offset: try reader.u32())
  }
}
