/// Builds ACPI structures byte by byte (ACPI 6.4 §5.2), with correct checksums unless a
/// test corrupts them afterwards.
enum ACPIFixture {
  static func le16(_ value: UInt16) -> [UInt8] {
    (0..<2).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
  }
  static func le32(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
  }
  static func le64(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
  }

  /// Sets `bytes[index]` so that all bytes in `range` sum to zero mod 256.
  static func fixChecksum(_ bytes: inout [UInt8], at index: Int, over range: Range<Int>) {
    bytes[index] = 0
    let sum = bytes[range].reduce(UInt8(0)) { $0 &+ $1 }
    bytes[index] = 0 &- sum
  }

  /// Flips one byte so the checksum no longer holds.
  static func corrupt(_ bytes: [UInt8], at index: Int = 9) -> [UInt8] {
    var copy = bytes
    copy[index] &+= 1
    return copy
  }

  /// RSDP revision 0 (§5.2.5.3): 20 bytes.
  static func rsdpV1(rsdt: UInt32) -> [UInt8] {
    var bytes = Array("RSD PTR ".utf8) + [0] + Array("BOCHS ".utf8) + [0] + le32(rsdt)
    fixChecksum(&bytes, at: 8, over: 0..<20)
    return bytes
  }

  /// RSDP revision 2: 36 bytes with both checksums.
  static func rsdpV2(rsdt: UInt32, xsdt: UInt64) -> [UInt8] {
    var bytes = Array("RSD PTR ".utf8) + [0] + Array("BOCHS ".utf8) + [2] + le32(rsdt)
    bytes += le32(36) + le64(xsdt) + [0, 0, 0, 0]
    fixChecksum(&bytes, at: 8, over: 0..<20)
    fixChecksum(&bytes, at: 32, over: 0..<36)
    return bytes
  }

  /// A table: the 36-byte header (§5.2.6) followed by `body`, `length` patched in unless
  /// `declaredLength` overrides it.
  static func table(
    _ signature: String, revision: UInt8 = 1, body: [UInt8], declaredLength: UInt32? = nil
  ) -> [UInt8] {
    var bytes = Array(signature.utf8) + le32(0) + [revision, 0] + Array("BOCHS ".utf8)
    bytes += Array("BXPC    ".utf8) + le32(1) + Array("BXPC".utf8) + le32(1)
    bytes += body
    bytes.replaceSubrange(4..<8, with: le32(declaredLength ?? UInt32(bytes.count)))
    fixChecksum(&bytes, at: 9, over: 0..<bytes.count)
    return bytes
  }

  static func rsdt(_ entries: [UInt32]) -> [UInt8] {
    table("RSDT", body: entries.flatMap(le32))
  }

  static func xsdt(_ entries: [UInt64]) -> [UInt8] {
    table("XSDT", body: entries.flatMap(le64))
  }

  /// A Generic Address Structure (§5.2.3.2).
  static func gas(space: UInt8, width: UInt8 = 8, access: UInt8 = 1, address: UInt64) -> [UInt8] {
    [space, width, 0, access] + le64(address)
  }

  /// FADT fields at the offsets of §5.2.9, Table 5.9.
  struct FADT {
    var length = 276
    var revision: UInt8 = 6
    var dsdt: UInt32 = 0
    var extendedDSDT: UInt64 = 0
    var smiCommand: UInt32 = 0
    var acpiEnable: UInt8 = 0
    var pm1aControl: UInt32 = 0
    var pm1bControl: UInt32 = 0
    var flags: UInt32 = 0
    var resetRegister: [UInt8] = [UInt8](repeating: 0, count: 12)
    var resetValue: UInt8 = 0
    var extendedPM1aControl: [UInt8] = [UInt8](repeating: 0, count: 12)

    func build() -> [UInt8] {
      var bytes = [UInt8](repeating: 0, count: 276)
      func put(_ field: [UInt8], at offset: Int) {
        bytes.replaceSubrange(offset..<offset + field.count, with: field)
      }
      put(le32(dsdt), at: 40)
      put(le32(smiCommand), at: 48)
      put([acpiEnable], at: 52)
      put(le32(pm1aControl), at: 64)
      put(le32(pm1bControl), at: 68)
      put(le32(flags), at: 112)
      put(resetRegister, at: 116)
      put([resetValue], at: 128)
      put(le64(extendedDSDT), at: 140)
      put(extendedPM1aControl, at: 172)
      return table("FACP", revision: revision, body: Array(bytes[36..<length]))
    }
  }

  static func dsdt(aml: [UInt8]) -> [UInt8] { table("DSDT", revision: 2, body: aml) }

  /// MADT (§5.2.12): local APIC address, flags, then the given structures.
  static func madt(localAPIC: UInt32 = 0xFEE0_0000, flags: UInt32 = 1, entries: [[UInt8]])
    -> [UInt8]
  {
    table("APIC", revision: 5, body: le32(localAPIC) + le32(flags) + entries.flatMap { $0 })
  }

  static func localAPIC(uid: UInt8, apicID: UInt8, flags: UInt32) -> [UInt8] {
    [0, 8, uid, apicID] + le32(flags)
  }

  static func ioAPIC(id: UInt8, address: UInt32, gsiBase: UInt32) -> [UInt8] {
    [1, 12, id, 0] + le32(address) + le32(gsiBase)
  }

  static func localAPICOverride(_ address: UInt64) -> [UInt8] { [5, 12, 0, 0] + le64(address) }

  static func x2APIC(id: UInt32, flags: UInt32, uid: UInt32) -> [UInt8] {
    [9, 16, 0, 0] + le32(id) + le32(flags) + le32(uid)
  }

  // MARK: AML (§20.2)

  /// `Name(_S5, Package(n) {elements})`, with `\` before the name when `rooted`.
  static func s5(rooted: Bool = false, count: UInt8? = nil, elements: [[UInt8]]) -> [UInt8] {
    let body = [count ?? UInt8(elements.count)] + elements.flatMap { $0 }
    return [0x08] + (rooted ? [0x5C] : []) + Array("_S5_".utf8) + [0x12] + pkgLength(body.count)
      + body
  }

  /// The shortest PkgLength (§20.2.4) for a package whose contents after PkgLength are `count` bytes.
  static func pkgLength(_ count: Int) -> [UInt8] {
    if count + 1 <= 0x3F { return [UInt8(count + 1)] }
    let total = count + 2
    precondition(total < 1 << 12)
    return [0x40 | UInt8(total & 0x0F), UInt8(total >> 4)]
  }

  static let zero: [UInt8] = [0x00]
  static let one: [UInt8] = [0x01]
  static func byte(_ value: UInt8) -> [UInt8] { [0x0A, value] }
  static func word(_ value: UInt16) -> [UInt8] { [0x0B] + le16(value) }

  /// AML that comes before `_S5` in a QEMU DSDT: `Scope(\_SB) { Name(_HID, ...) }` and a
  /// method body that mentions `_S5_` without declaring it (Store(_S5_, Local0)).
  static let preamble: [UInt8] =
    [0x10, 0x0B, 0x5C, 0x5F, 0x53, 0x42, 0x5F, 0x08, 0x5F, 0x48, 0x49, 0x44, 0x0A, 0x01]
    + [0x14, 0x0B, 0x5F, 0x50, 0x54, 0x53, 0x01, 0x70, 0x5F, 0x53, 0x35, 0x5F, 0x60]
  /// AML after it: `Name(_S4, Package(4) {Zero, Zero, Zero, Zero})`.
  static let postamble: [UInt8] =
    [0x08, 0x5F, 0x53, 0x34, 0x5F, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00]
}
