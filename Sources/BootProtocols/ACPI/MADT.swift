/// Multiple APIC Description Table (ACPI 6.4 §5.2.12): a fixed part, then variable-length
/// interrupt controller structures, each starting with a type byte and a length byte.
enum MADT {
  static let localAPICAddressOffset = 36
  static let flagsOffset = 40
  static let entriesOffset = 44
  /// Flags bit 0, PCAT_COMPAT (§5.2.12, Table 5.20).
  static let pcatCompatible: UInt32 = 1 << 0

  /// Structure types (§5.2.12, Table 5.21) with the length each needs.
  enum EntryType {
    static let localAPIC: UInt8 = 0  // §5.2.12.2, 8 bytes
    static let ioAPIC: UInt8 = 1  // §5.2.12.3, 12 bytes
    static let localAPICAddressOverride: UInt8 = 5  // §5.2.12.8, 12 bytes
    static let localX2APIC: UInt8 = 9  // §5.2.12.12, 16 bytes
  }

  /// Local APIC flags (§5.2.12.2, Table 5.23), shared by the x2APIC structure.
  static let enabledFlag: UInt32 = 1 << 0
  static let onlineCapableFlag: UInt32 = 1 << 1

  /// Fills in processors, I/O APICs and the local APIC address from a valid MADT.
  /// Unknown or short structures are skipped; a zero length ends the walk.
  static func read(_ madt: TableBytes, into info: inout ACPIInformation) {
    guard madt.count >= entriesOffset else { return }
    var localAPICAddress = UInt64(madt.u32(at: localAPICAddressOffset))
    info.hasLegacyPICs = madt.u32(at: flagsOffset) & pcatCompatible != 0

    var offset = entriesOffset
    while offset + 2 <= madt.count {
      let type = madt[offset]
      let length = Int(madt[offset + 1])
      guard length >= 2, offset + length <= madt.count else { break }
      switch (type, length) {
      case (EntryType.localAPIC, 8...):
        let flags = madt.u32(at: offset + 4)
        info.processors.append(
          processor(uid: UInt32(madt[offset + 2]), apicID: UInt32(madt[offset + 3]), flags: flags))
      case (EntryType.ioAPIC, 12...):
        info.ioAPICs.append(
          ACPIIOAPIC(
            id: madt[offset + 2], address: madt.u32(at: offset + 4),
            gsiBase: madt.u32(at: offset + 8)))
      case (EntryType.localAPICAddressOverride, 12...):
        localAPICAddress = madt.u64(at: offset + 4)
      case (EntryType.localX2APIC, 16...):
        info.processors.append(
          processor(
            uid: madt.u32(at: offset + 12), apicID: madt.u32(at: offset + 4),
            flags: madt.u32(at: offset + 8)))
      default:
        break
      }
      offset += length
    }
    info.localAPICAddress = localAPICAddress
  }

  static func processor(uid: UInt32, apicID: UInt32, flags: UInt32) -> ACPIProcessor {
    ACPIProcessor(
      processorUID: uid, apicID: apicID, enabled: flags & enabledFlag != 0,
      onlineCapable: flags & onlineCapableFlag != 0)
  }
}
