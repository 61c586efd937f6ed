/// The PC's real-time clock and CMOS RAM (Motorola MC146818A data sheet; the PC/AT's index
/// port 0x70 and data port 0x71): what an operating system reads its date from at boot.
/// Without it Linux waits a second for an update that never ends ("Unable to read current
/// time from RTC") and starts in 1970.
///
/// The time is the node's wall clock plus the VM's own offset in whole seconds (0 at
/// creation), computed when read, so the model costs nothing between accesses. It keeps
/// running while the VM is paused, as a battery-backed clock does. Setting the time (with
/// SET or without) changes only the offset. The update cycle is instantaneous at each wall
/// second; UIP reads 1 in the 244 µs before it and UF latches it, as the data sheet
/// describes. Not modelled: the periodic (PF) and alarm (AF) flags, and IRQ 8, which is not
/// wired (the guest's FADT says no CMOS RTC, so Linux does not bind rtc-cmos to it), and
/// daylight saving (DSE is kept but changes nothing).
public final class CMOSClock: PortDevice {
  public static let indexPort: UInt16 = 0x70
  public static let dataPort: UInt16 = 0x71

  /// Register numbers (MC146818A "Address Map").
  enum Register {
    static let seconds = 0x00
    static let minutes = 0x02
    static let hours = 0x04
    static let weekday = 0x06
    static let dayOfMonth = 0x07
    static let month = 0x08
    static let year = 0x09
    static let a = 0x0A
    static let b = 0x0B
    static let c = 0x0C
    static let d = 0x0D
    /// The IBM PC/AT's century byte (BCD, as the other fields), which ACPI's FADT may name.
    static let century = 0x32
    static let timeFields = [seconds, minutes, hours, weekday, dayOfMonth, month, year, century]
  }

  enum RegisterA {
    static let updateInProgress: UInt8 = 0x80
    /// DV2-0 = 010: the 32.768 kHz time base, running.
    static let dividerRunning: UInt8 = 0x20
    static let dividerMask: UInt8 = 0x70
  }

  enum RegisterB {
    static let set: UInt8 = 0x80
    static let updateEndedInterrupt: UInt8 = 0x10
    static let binary: UInt8 = 0x04
    static let twentyFourHour: UInt8 = 0x02
  }

  enum RegisterC {
    static let interruptRequest: UInt8 = 0x80
    static let updateEnded: UInt8 = 0x10
  }

  /// Data sheet: UIP goes high 244 µs before an update cycle begins.
  static let updatePendingNanoseconds: UInt64 = 244_000

  let wallClock: any WallClock
  var index: UInt8 = 0
  var nmiDisabled = false
  /// Registers A and B, the time fields while SET holds them, and the RAM bytes; C and D
  /// and the running time are computed.
  var bytes = [UInt8](repeating: 0, count: 128)
  /// Guest seconds minus wall seconds.
  var offsetSeconds: Int64 = 0
  /// The guest second at which register C was last read: UF is set once a later one began.
  var flagsReadAt: Int64

  public init(wallClock: any WallClock) {
    self.wallClock = wallClock
    bytes[Register.a] = RegisterA.dividerRunning | 0x06  // 1.024 kHz rate selection, as at reset
    bytes[Register.b] = RegisterB.twentyFourHour
    flagsReadAt = 0
    flagsReadAt = guestSeconds
  }

  var wallNanoseconds: UInt64 { wallClock.nanosecondsSinceEpoch }
  var guestSeconds: Int64 { Int64(wallNanoseconds / 1_000_000_000) &+ offsetSeconds }
  var isSet: Bool { bytes[Register.b] & RegisterB.set != 0 }
  var isRunning: Bool {
    !isSet && bytes[Register.a] & RegisterA.dividerMask == RegisterA.dividerRunning
  }

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    let upper: UInt32 = size >= 4 ? 0xFFFF_FF00 : size == 2 ? 0xFF00 : 0
    guard port == Self.dataPort else { return upper | 0xFF }  // the index port is write-only
    return upper | UInt32(register(Int(index)))
  }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    let byte = UInt8(truncatingIfNeeded: value)
    if port == Self.indexPort {
      index = byte & 0x7F
      nmiDisabled = byte & 0x80 != 0
    } else {
      setRegister(Int(index), to: byte)
    }
    return .none
  }

  func register(_ number: Int) -> UInt8 {
    switch number {
    case Register.a:
      let pending =
        isRunning
        && wallNanoseconds % 1_000_000_000 >= 1_000_000_000 - Self.updatePendingNanoseconds
      return bytes[Register.a] | (pending ? RegisterA.updateInProgress : 0)
    case Register.c:
      var flags: UInt8 = 0
      let now = guestSeconds
      if isRunning && now != flagsReadAt { flags |= RegisterC.updateEnded }
      if flags & RegisterC.updateEnded != 0
        && bytes[Register.b] & RegisterB.updateEndedInterrupt != 0
      {
        flags |= RegisterC.interruptRequest
      }
      flagsReadAt = now  // reading C clears it
      return flags
    case Register.d: return 0x80  // VRT: the battery is good
    case _ where !isSet && Register.timeFields.contains(number):
      return timeBytes(CalendarTime(secondsSinceEpoch: guestSeconds)).first { $0.field == number }?
        .byte ?? 0
    default: return bytes[number]
    }
  }

  func setRegister(_ number: Int, to value: UInt8) {
    switch number {
    case Register.a: bytes[Register.a] = value & ~RegisterA.updateInProgress
    case Register.b:
      let wasSet = isSet
      // SET stops updates and clears UIE (data sheet, register B bit 7).
      bytes[Register.b] =
        value & RegisterB.set != 0 ? value & ~RegisterB.updateEndedInterrupt : value
      if !wasSet && isSet {
        for (field, byte) in timeBytes(CalendarTime(secondsSinceEpoch: guestSeconds)) {
          bytes[field] = byte
        }
      } else if wasSet && !isSet {
        setTime(from: bytes)
      }
    case Register.c, Register.d: break  // read-only
    case _ where Register.timeFields.contains(number):
      if isSet {
        bytes[number] = value
      } else {
        var fields = bytes
        for (field, byte) in timeBytes(CalendarTime(secondsSinceEpoch: guestSeconds)) {
          fields[field] = byte
        }
        fields[number] = value
        setTime(from: fields)
      }
    default: bytes[number] = value
    }
  }

  /// A new offset from the time fields in `fields`; a time that is no date (month 13, a
  /// digit above 9 in BCD) leaves the clock as it was.
  private func setTime(from fields: [UInt8]) {
    guard let time = calendarTime(fields), let seconds = time.secondsSinceEpoch else { return }
    let offset = seconds &- Int64(wallNanoseconds / 1_000_000_000)
    guard offset.magnitude <= Self.maximumOffsetSeconds else { return }
    offsetSeconds = offset
    flagsReadAt = seconds
  }

  private var isBinary: Bool { bytes[Register.b] & RegisterB.binary != 0 }
  private var isTwentyFourHour: Bool { bytes[Register.b] & RegisterB.twentyFourHour != 0 }

  private func encode(_ value: Int) -> UInt8 {
    isBinary ? UInt8(value) : BinaryCodedDecimal.encode(value)
  }

  private func decode(_ byte: UInt8) -> Int? {
    isBinary ? Int(byte) : BinaryCodedDecimal.decode(byte)
  }

  /// The time fields' bytes in the mode register B selects. In 12-hour mode the hour is
  /// 1-12 with bit 7 set after noon.
  func timeBytes(_ time: CalendarTime) -> [(field: Int, byte: UInt8)] {
    var hour = encode(time.hour)
    if !isTwentyFourHour {
      let twelve = time.hour % 12 == 0 ? 12 : time.hour % 12
      hour = encode(twelve) | (time.hour >= 12 ? 0x80 : 0)
    }
    return [
      (Register.seconds, encode(time.second)), (Register.minutes, encode(time.minute)),
      (Register.hours, hour), (Register.weekday, encode(time.weekday)),
      (Register.dayOfMonth, encode(time.day)), (Register.month, encode(time.month)),
      (Register.year, encode(Self.lowDigits(time.year))),
      (Register.century, encode(Self.lowDigits(time.year / 100))),
    ]
  }

  /// 0-99 for any year, before year 0 too (a restored offset may reach there): the
  /// encoders take only two digits.
  static func lowDigits(_ value: Int) -> Int { (value % 100 + 100) % 100 }

  /// The largest offset a state may carry: 30,000 years, beyond any date the fields can be
  /// set to (binary century 255, year 255: 25755).
  public static let maximumOffsetSeconds: Int64 = 30_000 * 366 * 86_400

  private func calendarTime(_ fields: [UInt8]) -> CalendarTime? {
    var hourByte = fields[Register.hours]
    let afternoon = !isTwentyFourHour && hourByte & 0x80 != 0
    if !isTwentyFourHour { hourByte &= 0x7F }
    guard let second = decode(fields[Register.seconds]),
      let minute = decode(fields[Register.minutes]), var hour = decode(hourByte),
      let day = decode(fields[Register.dayOfMonth]), let month = decode(fields[Register.month]),
      let year = decode(fields[Register.year]), let century = decode(fields[Register.century])
    else { return nil }
    if !isTwentyFourHour {
      guard (1...12).contains(hour) else { return nil }
      hour = hour % 12 + (afternoon ? 12 : 0)
    }
    return CalendarTime(
      year: century * 100 + year, month: month, day: day, hour: hour, minute: minute,
      second: second)
  }
}

extension CMOSClock: StatefulDevice {
  /// The index port's latch and NMI bit, the 128 bytes as kept (registers A and B, the time
  /// fields only while SET holds them, the RAM; never UIP, C or D), the guest's offset from
  /// the wall clock and the second register C was last read in.
  public struct State: Equatable {
    public var index: UInt8 = 0
    public var nmiDisabled = false
    public var bytes = [UInt8](repeating: 0, count: 128)
    public var offsetSeconds: Int64 = 0
    public var flagsReadAt: Int64 = 0

    public init(
      index: UInt8 = 0, nmiDisabled: Bool = false,
      bytes: [UInt8] = [UInt8](repeating: 0, count: 128), offsetSeconds: Int64 = 0,
      flagsReadAt: Int64 = 0
    ) {
      self.index = index
      self.nmiDisabled = nmiDisabled
      self.bytes = bytes
      self.offsetSeconds = offsetSeconds
      self.flagsReadAt = flagsReadAt
    }
  }

  public func save() -> State {
    State(
      index: index, nmiDisabled: nmiDisabled, bytes: bytes, offsetSeconds: offsetSeconds,
      flagsReadAt: flagsReadAt)
  }

  /// A state of another size leaves the RAM as it is.
  public func restore(_ state: State) {
    index = state.index & 0x7F
    nmiDisabled = state.nmiDisabled
    if state.bytes.count == bytes.count {
      bytes = state.bytes
      bytes[Register.a] &= ~RegisterA.updateInProgress
      bytes[Register.c] = 0
      bytes[Register.d] = 0
    }
    offsetSeconds = state.offsetSeconds
    flagsReadAt = state.flagsReadAt
  }

  public func savedDevice() -> SavedDevice? { .cmosClock(save()) }

  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .cmosClock(let state) = saved else { return false }
    restore(state)
    return true
  }
}
