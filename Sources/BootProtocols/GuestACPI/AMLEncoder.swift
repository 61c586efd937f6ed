/// Encodes the few AML terms the guest's DSDT declares (ACPI 6.4 §20.2): names, integers,
/// packages, buffers and devices. Definition blocks only, no methods.
enum AMLEncoder {
  static let nameOp: UInt8 = 0x08
  static let bufferOp: UInt8 = 0x11
  static let packageOp: UInt8 = 0x12
  static let extendedOpPrefix: UInt8 = 0x5B
  static let deviceOp: UInt8 = 0x82
  static let rootChar: UInt8 = 0x5C
  static let dualNamePrefix: UInt8 = 0x2E

  /// PkgLength for `count` bytes that follow it (§20.2.4): it counts itself too; one byte
  /// up to 63, else a lead byte with the count of following bytes in bits 7:6 and the low
  /// nibble in bits 3:0, the rest in the following bytes.
  static func packageLength(_ count: Int) -> [UInt8] {
    if count + 1 <= 63 { return [UInt8(count + 1)] }
    var extra = 1
    while count + 1 + extra >= 1 << (4 + 8 * extra) { extra += 1 }
    let total = count + 1 + extra
    var bytes = [UInt8(extra << 6 | total & 0xF)]
    for index in 0..<extra { bytes.append(UInt8(truncatingIfNeeded: total >> (4 + 8 * index))) }
    return bytes
  }

  /// ZeroOp, OneOp, or the shortest of Byte/Word/DWord/QWord prefixes (§20.2.3).
  static func integer(_ value: UInt64) -> [UInt8] {
    switch value {
    case 0: return [0x00]
    case 1: return [0x01]
    case ...0xFF: return [0x0A, UInt8(value)]
    case ...0xFFFF: return [0x0B] + littleEndian(value, bytes: 2)
    case ...0xFFFF_FFFF: return [0x0C] + littleEndian(value, bytes: 4)
    default: return [0x0E] + littleEndian(value, bytes: 8)
    }
  }

  /// DWordConst, whatever the value: EISA IDs are always 32-bit.
  static func dword(_ value: UInt32) -> [UInt8] {
    [0x0C] + littleEndian(UInt64(value), bytes: 4)
  }

  static func littleEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
    (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
  }

  /// Name(segment, object) (§20.2.5.1 DefName).
  static func name(_ segment: [UInt8], _ object: [UInt8]) -> [UInt8] {
    [nameOp] + segment + object
  }

  /// Package(n) { elements } (§20.2.5.4 DefPackage), at most 255 elements.
  static func package(_ elements: [[UInt8]]) -> [UInt8] {
    var body = [UInt8(elements.count)]
    for element in elements { body += element }
    return [packageOp] + packageLength(body.count) + body
  }

  /// Buffer() { bytes } (§20.2.5.4 DefBuffer).
  static func buffer(_ bytes: [UInt8]) -> [UInt8] {
    let body = integer(UInt64(bytes.count)) + bytes
    return [bufferOp] + packageLength(body.count) + body
  }

  /// Device(\PARENT.NAME) { terms } (§20.2.5.2 DefDevice), named from the root.
  static func device(parent: [UInt8], name: [UInt8], _ terms: [UInt8]) -> [UInt8] {
    let body = [rootChar, dualNamePrefix] + parent + name + terms
    return [extendedOpPrefix, deviceOp] + packageLength(body.count) + body
  }

  /// The compressed EISA ID of a PNP ID such as "PNP0A03" (§6.1.5 _HID): three letters
  /// in 5 bits each, then four hex digits, stored big-endian.
  static func eisaID(_ text: [UInt8]) -> UInt32 {
    func letter(_ index: Int) -> UInt32 { UInt32(text[index] &- 0x40) & 0x1F }
    func hex(_ index: Int) -> UInt32 {
      let c = text[index]
      return UInt32(c >= 0x41 ? c - 0x41 + 10 : c - 0x30)
    }
    let vendor = letter(0) << 10 | letter(1) << 5 | letter(2)
    let product = hex(3) << 12 | hex(4) << 8 | hex(5) << 4 | hex(6)
    // Byte order: vendor high, vendor low, product high, product low.
    return (vendor >> 8) | (vendor & 0xFF) << 8 | (product >> 8) << 16 | (product & 0xFF) << 24
  }
}
