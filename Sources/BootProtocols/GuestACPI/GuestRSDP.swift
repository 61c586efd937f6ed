/// The Root System Description Pointer, revision 2 (ACPI 6.4 §5.2.5.3, Table 5.3).
enum GuestRSDP {
  static let size = 36
  static let signature: [UInt8] = Array("RSD PTR ".utf8)

  /// Signature, Checksum (first 20 bytes), OEMID, Revision 2, RsdtAddress, Length,
  /// XsdtAddress, Extended Checksum (all 36 bytes), 3 reserved bytes.
  static func make(rsdtAddress: UInt32, xsdtAddress: UInt64) -> [UInt8] {
    var rsdp = signature + [0] + GuestACPITable.oemID + [2]
    rsdp.appendLittleEndian(rsdtAddress)
    rsdp.appendLittleEndian(UInt32(size))
    rsdp.appendLittleEndian(xsdtAddress)
    rsdp += [0, 0, 0, 0]
    GuestACPITable.setChecksum(&rsdp, at: 8, over: 0..<RootTable.rsdpV1Size)
    GuestACPITable.setChecksum(&rsdp, at: 32, over: 0..<size)
    return rsdp
  }
}

/// The Firmware ACPI Control Structure (ACPI 6.4 §5.2.10, Table 5.14), required when the
/// platform is not hardware-reduced. No checksum; 64-byte aligned.
enum GuestFACS {
  static let size = 64
  static let alignment = 64
  static let signature: [UInt8] = Array("FACS".utf8)

  /// Signature, Length; hardware signature, waking vectors, global lock and flags zero
  /// (no S4BIOS, no 64-bit wake); Version 2 at offset 32.
  static func make() -> [UInt8] {
    var facs = [UInt8](repeating: 0, count: size)
    facs.store(signature, at: 0)
    facs.storeLittleEndian(UInt32(size), at: 4)
    facs[32] = 2
    return facs
  }
}
