/// The guest's Differentiated System Description Table: a minimal AML body declaring only
/// `Name(_S5, Package(2) {SLP_TYPa, SLP_TYPb})`, so the OS can power off (ACPI 6.4 §7.4.2),
/// and the PCI root bridge where the machine has one (GuestPCIRootAML).
enum GuestDSDT {
  /// Revision 2: AML integers are 64 bits wide (§5.2.11.1).
  static let revision: UInt8 = 2

  static func make(sleepTypeS5: UInt8, pciHostBridge: GuestPCIHostBridge? = nil) -> [UInt8] {
    GuestACPITable.make(
      signature: ACPISignature.dsdt, revision: revision,
      body: s5Declaration(sleepTypeS5) + (pciHostBridge.map(GuestPCIRootAML.make) ?? []))
  }

  /// NameOp '_S5_' PackageOp PkgLength NumElements SLP_TYPa SLP_TYPb (§20.2.5.1 DefName,
  /// §20.2.5.4 DefPackage). PkgLength counts itself, NumElements and the elements; under 64
  /// it is a single byte (§20.2.4).
  static func s5Declaration(_ sleepType: UInt8) -> [UInt8] {
    typealias Op = AMLSleepState.Opcode
    let element = integer(sleepType)
    let elements = element + element
    let packageLength = UInt8(1 + 1 + elements.count)
    return [Op.name] + AMLSleepState.nameSegment + [Op.package, packageLength, 2] + elements
  }

  /// ZeroOp, OneOp or BytePrefix n (§20.2.3).
  static func integer(_ value: UInt8) -> [UInt8] {
    typealias Op = AMLSleepState.Opcode
    switch value {
    case 0: return [Op.zero]
    case 1: return [Op.one]
    default: return [Op.bytePrefix, value]
    }
  }
}
