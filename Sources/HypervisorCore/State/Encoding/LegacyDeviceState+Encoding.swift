/// The 8259 pair's and the pc-testdev's records (docs/vm-state.md, "Encoding").

extension PIC8259Pair.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .pic }

  public func encodePayload(into writer: inout StateWriter) {
    writer.chip(master)
    writer.chip(slave)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    // IRQ 0-2 of the master and 8 and 13 of the slave are always edge (PIIX4 §4.1.12).
    let master = try reader.chip(edgeOnly: 0x07)
    return Self(master: master, slave: try reader.chip(edgeOnly: 0x21))
  }
}

// One 8259A: IRR, ISR, IMR, input levels, ELCR, vector base, lowest priority (u8 each), a
// flag byte (bit 0 automatic EOI, 1 rotate on automatic EOI, 2 special mask, 3 read ISR,
// 4 poll, 5 single, 6 ICW4 expected, 7 level mode), and the next ICW (0, 2, 3 or 4).
extension StateWriter {
  mutating func chip(_ chip: PIC8259) {
    for byte in [
      chip.requests, chip.inService, chip.mask, chip.levels, chip.levelTriggered,
      chip.vectorBase, chip.lowestPriority,
    ] {
      u8(byte)
    }
    let flags = [
      chip.autoEOI, chip.rotateOnAutoEOI, chip.specialMask, chip.readInService, chip.pollNext,
      chip.singleMode, chip.needsICW4, chip.levelMode,
    ]
    var bits: UInt8 = 0
    for (bit, set) in flags.enumerated() where set { bits |= 1 << UInt8(bit) }
    u8(bits)
    u8(UInt8(truncatingIfNeeded: chip.expectedICW))
  }
}

extension StateReader {
  mutating func chip(edgeOnly: UInt8) throws(StateDecodingError) -> PIC8259 {
    var chip = PIC8259()
    chip.requests = try u8()
    chip.inService = try u8()
    chip.mask = try u8()
    chip.levels = try u8()
    chip.levelTriggered = try u8()
    try check(chip.levelTriggered & edgeOnly == 0, fieldSize: 1)
    chip.vectorBase = try u8()
    try check(chip.vectorBase & 7 == 0, fieldSize: 1)  // ICW2 bits 7:3 (8259A data sheet)
    chip.lowestPriority = try u8()
    try check(chip.lowestPriority <= 7, fieldSize: 1)
    let bits = try u8()
    chip.autoEOI = bits & 0x01 != 0
    chip.rotateOnAutoEOI = bits & 0x02 != 0
    chip.specialMask = bits & 0x04 != 0
    chip.readInService = bits & 0x08 != 0
    chip.pollNext = bits & 0x10 != 0
    chip.singleMode = bits & 0x20 != 0
    chip.needsICW4 = bits & 0x40 != 0
    chip.levelMode = bits & 0x80 != 0
    let next = try u8()
    try check(next == 0 || (2...4).contains(next), fieldSize: 1)
    chip.expectedICW = Int(next)
    return chip
  }
}

extension PCTestDevice.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .pcTestDevice }

  public func encodePayload(into writer: inout StateWriter) {
    writer.u32(data)
    writer.u32(lineLevels)
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    let data = try reader.u32()
    let levels = try reader.u32()
    try reader.check(levels >> 24 == 0, fieldSize: 4)  // lines 0-23
    return Self(data: data, lineLevels: levels)
  }
}

extension PCTestIORAM.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .pcTestIORAM }

  /// The 64 KiB as they are (short states padded with zeros).
  public func encodePayload(into writer: inout StateWriter) {
    let size = Int(PCTestDevice.ioRAMSize)
    writer.raw(
      bytes.count == size
        ? bytes
        : Array(bytes.prefix(size))
          + [UInt8](
            repeating: 0, count: max(0, size - bytes.count)))
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  { Self(bytes: try reader.raw(count: Int(PCTestDevice.ioRAMSize))) }
}

extension CMOSClock.State: StateRecordEncodable {
  public static var recordKind: StateRecordKind { .cmosClock }

  /// Index u8 (0-0x7F), NMI disabled u8 (0/1), the 128 bytes (UIP, C and D zero), the
  /// offset from the wall clock and the second C was last read in (i64 each, as u64).
  public func encodePayload(into writer: inout StateWriter) {
    writer.u8(index)
    writer.bool(nmiDisabled)
    writer.raw(
      bytes.count == 128
        ? bytes : Array(bytes.prefix(128)) + [UInt8](repeating: 0, count: max(0, 128 - bytes.count))
    )
    writer.u64(UInt64(bitPattern: offsetSeconds))
    writer.u64(UInt64(bitPattern: flagsReadAt))
  }

  public static func decodePayload(from reader: inout StateReader) throws(StateDecodingError)
    -> Self
  {
    let index = try reader.u8()
    try reader.check(index < 0x80, fieldSize: 1)
    let nmiDisabled = try reader.bool()
    let bytes = try reader.raw(count: 128)
    try reader.check(
      bytes[CMOSClock.Register.a] & CMOSClock.RegisterA.updateInProgress == 0
        && bytes[CMOSClock.Register.c] == 0 && bytes[CMOSClock.Register.d] == 0,
      fieldSize: 128)
    let offset = Int64(bitPattern: try reader.u64())
    try reader.check(
      offset.magnitude <= CMOSClock.maximumOffsetSeconds, fieldSize: 8)
    let flagsReadAt = Int64(bitPattern: try reader.u64())
    return Self(
      index: index, nmiDisabled: nmiDisabled, bytes: bytes, offsetSeconds: offset,
      flagsReadAt: flagsReadAt)
  }
}
