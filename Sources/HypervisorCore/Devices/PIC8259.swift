/// One Intel 8259A programmable interrupt controller (8259A data sheet): the interrupt
/// request (IRR), in-service (ISR) and mask (IMR) registers, initialization by ICW1–ICW4,
/// operation by OCW1–OCW3, rotating priority, automatic EOI and the edge/level choice of
/// the PIIX ELCR. A value: the pair (PIC8259Pair) owns two and connects them.
public struct PIC8259: Equatable {
  public var requests: UInt8 = 0  // IRR
  public var inService: UInt8 = 0  // ISR
  public var mask: UInt8 = 0  // IMR
  /// Input levels, for edge detection and level-triggered inputs.
  public var levels: UInt8 = 0
  /// ELCR: 1 = level-triggered input (PIIX4 §4.1.12); edge otherwise.
  public var levelTriggered: UInt8 = 0
  public var vectorBase: UInt8 = 0
  /// The IR with the lowest priority; the one after it has the highest (7 after reset).
  public var lowestPriority: UInt8 = 7
  public var autoEOI = false
  public var rotateOnAutoEOI = false
  public var specialMask = false
  public var readInService = false
  public var pollNext = false
  /// Which ICW the next data-port write is (2–4), or 0 when initialized.
  var expectedICW = 0
  var singleMode = false
  var needsICW4 = false
  /// ICW1's LTIM: every input level-triggered.
  var levelMode = false

  public init() {}

  /// An input's new level. A rising edge latches IRR (the request is kept when the line
  /// drops before the acknowledge, as QEMU's model does); a level-triggered input's IRR
  /// follows its level.
  public mutating func setLevel(_ line: Int, high: Bool) {
    let bit = UInt8(1) << UInt8(line & 7)
    if isLevel(bit) {
      requests = high ? requests | bit : requests & ~bit
    } else if high && levels & bit == 0 {
      requests |= bit
    }
    levels = high ? levels | bit : levels & ~bit
  }

  func isLevel(_ bit: UInt8) -> Bool { levelMode || levelTriggered & bit != 0 }

  /// The priority of IR `line`: 0 highest (§"Rotating priority").
  func priority(_ line: UInt8) -> UInt8 { (line &- lowestPriority &- 1) & 7 }

  /// The highest-priority line set in `bits`, if any.
  func highest(in bits: UInt8) -> UInt8? {
    var best: UInt8? = nil
    for line in UInt8(0)..<8 where bits & (1 << line) != 0 {
      if best == nil || priority(line) < priority(best!) { best = line }
    }
    return best
  }

  /// The IR this chip would interrupt with: requested, unmasked, and of higher priority
  /// than any in service (special mask mode: any not itself in service). `cascade` (the
  /// master's IR2) is not blocked by its own in-service bit in the pair's nested mode.
  public func pendingLine() -> UInt8? {
    guard let line = highest(in: requests & ~mask) else { return nil }
    let blocking = specialMask ? inService & ~mask : inService
    if let serving = highest(in: blocking), priority(serving) <= priority(line) { return nil }
    return line
  }

  /// INTA: `line` moves from IRR to ISR (or not, with automatic EOI). A level-triggered
  /// request stays while its input is high.
  public mutating func acknowledge(_ line: UInt8) {
    let bit = UInt8(1) << line
    if !isLevel(bit) { requests &= ~bit }
    if autoEOI {
      if rotateOnAutoEOI { lowestPriority = line }
    } else {
      inService |= bit
    }
  }

  public mutating func writeCommand(_ value: UInt8) {
    if value & 0x10 != 0 {  // ICW1
      singleMode = value & 0x02 != 0
      needsICW4 = value & 0x01 != 0
      levelMode = value & 0x08 != 0
      expectedICW = 2
      mask = 0
      inService = 0
      requests = 0
      levels = 0
      lowestPriority = 7
      specialMask = false
      readInService = false
      pollNext = false
      autoEOI = false
      rotateOnAutoEOI = false
    } else if value & 0x08 != 0 {  // OCW3
      if value & 0x04 != 0 { pollNext = true }
      if value & 0x02 != 0 { readInService = value & 0x01 != 0 }
      if value & 0x40 != 0 { specialMask = value & 0x20 != 0 }
    } else {  // OCW2
      writeOCW2(value)
    }
  }

  mutating func writeOCW2(_ value: UInt8) {
    let level = value & 7
    switch value >> 5 {
    case 0b001, 0b101:  // non-specific EOI (and rotate)
      let blocking = specialMask ? inService & ~mask : inService
      guard let line = highest(in: blocking) else { return }
      inService &= ~(1 << line)
      if value >> 5 == 0b101 { lowestPriority = line }
    case 0b011, 0b111:  // specific EOI (and rotate)
      inService &= ~(1 << level)
      if value >> 5 == 0b111 { lowestPriority = level }
    case 0b100: rotateOnAutoEOI = true
    case 0b000: rotateOnAutoEOI = false
    case 0b110: lowestPriority = level  // set priority
    default: break  // 0b010: no operation
    }
  }

  public mutating func writeData(_ value: UInt8) {
    switch expectedICW {
    case 2:
      vectorBase = value & 0xF8
      expectedICW = singleMode ? (needsICW4 ? 4 : 0) : 3
    case 3:
      expectedICW = needsICW4 ? 4 : 0  // cascade wiring is fixed in the pair
    case 4:
      autoEOI = value & 0x02 != 0
      expectedICW = 0
    default:
      mask = value  // OCW1
    }
  }

  /// A command-port read: the poll word after OCW3 P (it acknowledges), else IRR or ISR.
  public mutating func readCommand() -> UInt8 {
    if pollNext {
      pollNext = false
      guard let line = pendingLine() else { return 0 }
      acknowledge(line)
      return 0x80 | line
    }
    return readInService ? inService : requests
  }
}

/// The PC/AT pair of 8259As: the master at ports 0x20/0x21 with the slave cascaded on its
/// IR2, the slave at 0xA0/0xA1, and the ELCR at 0x4D0/0x4D1 (PIIX4 §4.1.12). Its INTR
/// output (`interruptRequested`) reaches a vCPU through the local APIC's LINT0 in ExtINT
/// mode; `acknowledge()` is the INTA cycle that yields the vector.
public final class PIC8259Pair: PortDevice {
  public internal(set) var master = PIC8259()
  public internal(set) var slave = PIC8259()
  /// Called when INTR may have risen, so a halted vCPU can be woken.
  public var onRequest: (() -> Void)?

  public init() {}

  /// Initialized as a PC BIOS does (SeaBIOS `pic_reset`): vectors 0x08 and 0x70, edge
  /// triggered, the slave on IR2, 8086 mode. A BIOS then masks the lines it has no handler
  /// for; Peregrine has no BIOS handlers, so it leaves every line open and a guest masks
  /// what it does not want (kvm-unit-tests' startup masks all, `mask_pic_interrupts`).
  public static func afterFirmware() -> PIC8259Pair {
    let pair = PIC8259Pair()
    for (base, command) in [(UInt16(0x20), UInt8(0x08)), (0xA0, 0x70)] {
      _ = pair.write(port: base, size: 1, value: 0x11)
      _ = pair.write(port: base + 1, size: 1, value: UInt32(command))
      _ = pair.write(port: base + 1, size: 1, value: base == 0x20 ? 0x04 : 0x02)
      _ = pair.write(port: base + 1, size: 1, value: 0x01)
    }
    return pair
  }

  /// ISA line 0–15: 0–7 on the master, 8–15 on the slave.
  public func setLevel(line: Int, high: Bool) {
    guard line >= 0 && line < 16 else { return }
    if line < 8 { master.setLevel(line, high: high) } else { slave.setLevel(line - 8, high: high) }
    updateCascade()
    if high, interruptRequested { onRequest?() }
  }

  /// The slave's INT output is the master's IR2 input, as a level: a second slave request
  /// after the first's acknowledge must still reach the master.
  private func updateCascade() {
    let bit: UInt8 = 1 << 2
    let high = slave.pendingLine() != nil
    master.requests = high ? master.requests | bit : master.requests & ~bit
  }

  /// INTR: the master has an interrupt to give.
  public var interruptRequested: Bool { master.pendingLine() != nil }

  /// The vector `acknowledge()` would give now, if INTR is up.
  public var pendingVector: UInt8? {
    guard let line = master.pendingLine() else { return nil }
    guard line == 2 else { return master.vectorBase | line }
    return slave.vectorBase | (slave.pendingLine() ?? 7)
  }

  /// INTA: the vector of the highest-priority request, moved to in service; the spurious
  /// IR7 vector of the chip that lost its request meanwhile (8259A "IR7 default").
  public func acknowledge() -> UInt8 {
    guard let line = master.pendingLine() else { return master.vectorBase | 7 }
    master.acknowledge(line)
    var vector = master.vectorBase | line
    if line == 2 {
      if let slaveLine = slave.pendingLine() {
        slave.acknowledge(slaveLine)
        vector = slave.vectorBase | slaveLine
      } else {
        vector = slave.vectorBase | 7
      }
    }
    updateCascade()
    return vector
  }

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    let value: UInt8
    switch port {
    case 0x20: value = master.readCommand()
    case 0x21: value = master.mask
    case 0xA0: value = slave.readCommand()
    case 0xA1: value = slave.mask
    case 0x4D0: value = master.levelTriggered
    case 0x4D1: value = slave.levelTriggered
    default: value = 0xFF
    }
    updateCascade()
    return UInt32(value)
  }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    let byte = UInt8(truncatingIfNeeded: value)
    switch port {
    case 0x20: master.writeCommand(byte)
    case 0x21: master.writeData(byte)
    case 0xA0: slave.writeCommand(byte)
    case 0xA1: slave.writeData(byte)
    case 0x4D0: master.levelTriggered = byte & 0xF8  // IRQ 0-2 are always edge
    case 0x4D1: slave.levelTriggered = byte & 0xDE  // IRQ 8 and 13 are always edge
    default: break
    }
    updateCascade()
    if interruptRequested { onRequest?() }
    return .none
  }
}
