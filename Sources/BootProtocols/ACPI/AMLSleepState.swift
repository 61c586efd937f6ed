/// Finds the `\_S5` sleeping-state package in AML without an interpreter.
///
/// Firmware declares it as `Name(_S5, Package(n) {SLP_TYPa, SLP_TYPb, ...})` (ACPI 6.4 §7.4.2),
/// which encodes as NameOp NameString PackageOp PkgLength NumElements PackageElement...
/// (§20.2.5.1 DefName, §20.2.5.4 DefPackage). The scan looks for that byte shape; a
/// `_S5_` occurrence of any other shape is not the declaration and is passed over.
enum AMLSleepState {
  /// Opcodes and prefixes (§20.2.2 Name Objects, §20.2.3 Data Objects, §20.2.5).
  enum Opcode {
    static let zero: UInt8 = 0x00  // ZeroOp
    static let one: UInt8 = 0x01  // OneOp
    static let name: UInt8 = 0x08  // NameOp
    static let bytePrefix: UInt8 = 0x0A
    static let wordPrefix: UInt8 = 0x0B
    static let dwordPrefix: UInt8 = 0x0C
    static let qwordPrefix: UInt8 = 0x0E
    static let package: UInt8 = 0x12  // PackageOp
    static let rootChar: UInt8 = 0x5C  // '\'
    static let ones: UInt8 = 0xFF  // OnesOp
  }

  /// The NameSeg "_S5_" (§20.2.2: four characters, padded with '_').
  static let nameSegment: [UInt8] = [0x5F, 0x53, 0x35, 0x5F]

  enum Result: Equatable {
    case found(sleepTypeA: UInt8, sleepTypeB: UInt8)
    /// `Name(_S5, ...)` exists but its package could not be decoded.
    case malformed
    case missing
  }

  /// Scans `aml` for `Name(_S5, Package ...)` or `Name(\_S5, Package ...)`.
  static func search(_ aml: TableBytes) -> Result {
    var sawDeclaration = false
    var offset = 1
    while offset + nameSegment.count <= aml.count {
      if aml.matches(nameSegment, at: offset), isNameDeclaration(aml, segmentAt: offset) {
        sawDeclaration = true
        if let types = sleepTypes(aml, packageAt: offset + nameSegment.count) {
          return .found(sleepTypeA: types.a, sleepTypeB: types.b)
        }
      }
      offset += 1
    }
    return sawDeclaration ? .malformed : .missing
  }

  /// Whether the NameSeg at `offset` follows NameOp directly or via the root prefix '\'.
  static func isNameDeclaration(_ aml: TableBytes, segmentAt offset: Int) -> Bool {
    if aml[offset - 1] == Opcode.name { return true }
    return offset >= 2 && aml[offset - 1] == Opcode.rootChar && aml[offset - 2] == Opcode.name
  }

  /// Decodes DefPackage at `offset` and takes SLP_TYPa and SLP_TYPb from its first elements.
  static func sleepTypes(_ aml: TableBytes, packageAt offset: Int) -> (a: UInt8, b: UInt8)? {
    guard offset < aml.count, aml[offset] == Opcode.package,
      let length = packageLength(aml, at: offset + 1)
    else { return nil }
    let end = offset + 1 + length.value  // PkgLength counts its own bytes (§20.2.4).
    var cursor = offset + 1 + length.encodedSize
    guard end <= aml.count, cursor < end else { return nil }
    let elementCount = aml[cursor]
    cursor += 1
    guard elementCount > 0, let first = integer(aml, at: &cursor, end: end) else { return nil }
    if elementCount == 1 {
      // A one-element package packs SLP_TYPa in bits 7:0 and SLP_TYPb in bits 15:8,
      // as some ACPI 1.0 firmware did; ACPICA accepts it too.
      return (UInt8(truncatingIfNeeded: first), UInt8(truncatingIfNeeded: first >> 8))
    }
    guard let second = integer(aml, at: &cursor, end: end),
      first <= UInt64(UInt8.max), second <= UInt64(UInt8.max)
    else { return nil }
    return (UInt8(first), UInt8(second))
  }

  /// PkgLength (§20.2.4): bits 7:6 of the lead byte count the bytes that follow (0–3). With
  /// none, bits 5:0 are the length; otherwise bits 3:0 are its low nibble and each following
  /// byte adds eight more bits. The length includes the PkgLength bytes themselves.
  static func packageLength(_ aml: TableBytes, at offset: Int) -> (value: Int, encodedSize: Int)? {
    guard offset < aml.count else { return nil }
    let lead = aml[offset]
    let following = Int(lead >> 6)
    if following == 0 { return (Int(lead & 0x3F), 1) }
    guard lead & 0x30 == 0, offset + following < aml.count else { return nil }
    var value = Int(lead & 0x0F)
    for index in 0..<following {
      value |= Int(aml[offset + 1 + index]) << (4 + 8 * index)
    }
    return (value, following + 1)
  }

  /// A constant integer element (§20.2.3 ComputationalData, ConstObj), advancing `cursor`.
  /// Anything else, such as a name reference, is not decoded.
  static func integer(_ aml: TableBytes, at cursor: inout Int, end: Int) -> UInt64? {
    guard cursor < end else { return nil }
    let opcode = aml[cursor]
    let size: Int
    switch opcode {
    case Opcode.zero, Opcode.one, Opcode.ones:
      cursor += 1
      return opcode == Opcode.ones ? UInt64.max : UInt64(opcode)
    case Opcode.bytePrefix: size = 1
    case Opcode.wordPrefix: size = 2
    case Opcode.dwordPrefix: size = 4
    case Opcode.qwordPrefix: size = 8
    default: return nil
    }
    guard cursor + 1 + size <= end else { return nil }
    var value: UInt64 = 0
    for index in 0..<size {
      value |= UInt64(aml[cursor + 1 + index]) << (8 * index)
    }
    cursor += 1 + size
    return value
  }
}
