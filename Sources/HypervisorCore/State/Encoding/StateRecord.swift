/// What a state record holds: the kind byte of its header.
public enum StateRecordKind: UInt8, Equatable {
  case vcpu = 1
  case uart = 2
  case pit = 3
  case localAPIC = 4
  case ioAPIC = 5
  case acpiPower = 6
  case testMMIO = 7
  case reset = 8
  case debugExit = 9
  /// A whole VM's saved state starts with one (VMStateHeader): what follows it.
  case vm = 10
  case pmTimer = 11
  case firmwareConfig = 12
  /// The PCI bus: the CF8 address latch and which slots hold a function.
  case pciBus = 13
  /// A PCI function without a model of its own (the host bridge): its configuration space.
  case pciFunction = 14
  /// A virtio PCI function's transport: configuration space, common configuration, queues,
  /// MSI-X table.
  case virtioPCI = 15
  case virtioBlock = 16
  case virtioNet = 17
  case virtioEntropy = 18
  /// The 8259 pair (master, slave).
  case pic = 19
  case pcTestDevice = 20
  /// The pc-testdev's 64 KiB of I/O RAM.
  case pcTestIORAM = 21
  /// The real-time clock and CMOS RAM (ports 0x70-0x71).
  case cmosClock = 22
}

/// A value that travels as one state record: the header "PGST", the format version (u16),
/// the kind (u8) and the payload's length (u32), then the payload, all little-endian
/// (docs/vm-state.md, "Encoding"). Records can follow one another in a checkpoint file.
public protocol StateRecordEncodable {
  static var recordKind: StateRecordKind { get }
  func encodePayload(into writer: inout StateWriter)
  static func decodePayload(from reader: inout StateReader) throws(StateDecodingError) -> Self
}

public enum StateRecord {
  public static let magic: [UInt8] = [0x50, 0x47, 0x53, 0x54]  // "PGST"
  /// 2: the I/O APIC record gained its ID, line levels and remote IRR bits (version 1
  /// records are refused: nothing was stored in version 1 beyond a paused VM's report).
  /// 3: the vCPU record gained IA32_TSC_AUX (u64), PKRU and IA32_PKRS (u32 each) at its
  /// end. Version 2 records are refused (`unsupportedVersion`): a checkpoint is restored by
  /// the release that wrote it, and a migration runs between nodes of one release.
  public static let version: UInt16 = 3
  public static let headerSize = 11
  /// No record is larger: a vCPU with the most shadow MSRs is under 4 KiB; the largest is
  /// the pc-testdev's I/O RAM, exactly 64 KiB.
  public static let maximumPayload = 64 * 1024
}

extension StateRecordEncodable {
  /// The whole record, header included.
  public func encoded() -> [UInt8] {
    var payload = StateWriter()
    encodePayload(into: &payload)
    var writer = StateWriter()
    writer.raw(StateRecord.magic)
    writer.u16(StateRecord.version)
    writer.u8(Self.recordKind.rawValue)
    writer.u32(UInt32(payload.bytes.count))
    writer.raw(payload.bytes)
    return writer.bytes
  }

  /// Exactly one record of this kind, nothing after it.
  public static func decoded(_ bytes: [UInt8]) throws(StateDecodingError) -> Self {
    var reader = StateReader(bytes)
    let value = try decode(from: &reader)
    guard reader.remaining == 0 else { throw .trailingBytes(at: reader.position) }
    return value
  }

  /// The next record from `reader`, which must be of this kind.
  public static func decode(from reader: inout StateReader) throws(StateDecodingError) -> Self {
    guard try reader.raw(count: 4) == StateRecord.magic else { throw .badMagic }
    let version = try reader.u16()
    guard version == StateRecord.version else { throw .unsupportedVersion(version) }
    let kind = try reader.u8()
    guard kind == recordKind.rawValue else {
      throw .wrongKind(expected: recordKind.rawValue, found: kind)
    }
    let length = Int(try reader.u32())
    guard length <= StateRecord.maximumPayload, length <= reader.remaining else {
      throw .lengthMismatch(declared: length, actual: reader.remaining)
    }
    var payload = try reader.payload(count: length)
    let value = try decodePayload(from: &payload)
    guard payload.remaining == 0 else { throw .trailingBytes(at: payload.position) }
    return value
  }
}

extension StateRecord {
  /// One record of a sequence: its kind and its whole bytes, header included.
  public struct Entry: Equatable {
    public var kind: StateRecordKind
    public var bytes: [UInt8]
  }

  /// Splits records that follow one another (a VM's saved state, a checkpoint file) by
  /// their headers, refusing an unknown kind, a bad header or a cut-off record. The
  /// payloads are checked when each is decoded as its kind.
  public static func entries(in bytes: [UInt8]) throws(StateDecodingError) -> [Entry] {
    var reader = StateReader(bytes)
    var entries: [Entry] = []
    while reader.remaining > 0 {
      let start = reader.position
      guard try reader.raw(count: 4) == magic else { throw .badMagic }
      let version = try reader.u16()
      guard version == StateRecord.version else { throw .unsupportedVersion(version) }
      let kindAt = reader.position
      guard let kind = StateRecordKind(rawValue: try reader.u8()) else {
        throw .invalidValue(at: kindAt)
      }
      let length = Int(try reader.u32())
      guard length <= maximumPayload, length <= reader.remaining else {
        throw .lengthMismatch(declared: length, actual: reader.remaining)
      }
      _ = try reader.payload(count: length)
      entries.append(Entry(kind: kind, bytes: Array(bytes[start..<reader.position])))
    }
    return entries
  }
}
