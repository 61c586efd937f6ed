/// Why ACPI information could not be gathered.
///
/// `ACPITables.discover` throws only the RSDP and root-table cases, without which no
/// table can be found. The others explain a missing `ACPIInformation.powerOff` and are
/// reported through `ACPIInformation.powerOffError`.
public enum ACPIError: Error, Equatable {
  /// The RSDP copy cannot be read at the address the boot loader gave.
  case rsdpUnreadable
  /// The RSDP's checksum, or for revision 2 its extended checksum, is wrong (§5.2.5.3).
  case rsdpChecksum
  /// No RSDT/XSDT header at the address the RSDP gives, or a different signature there.
  case rootTableUnreadable
  /// The RSDT/XSDT bytes do not sum to zero (§5.2.7, §5.2.8).
  case rootTableChecksum(signature: [UInt8])
  /// An essential table is shorter than its fixed fields or runs into unreadable memory.
  case tableTruncated(signature: [UInt8])
  /// No FADT with a valid checksum is listed in the root table (§5.2.9).
  case fadtMissing
  /// The FADT gives no I/O-port PM1a control block, e.g. on hardware-reduced ACPI (§4.1).
  case pm1aControlBlockMissing
  /// The DSDT the FADT points to is unreadable, mis-signed or fails its checksum (§5.2.11.1).
  case dsdtUnreadable
  /// The DSDT defines no `\_S5` package (§7.4.2).
  case s5Missing
  /// `\_S5` is defined but not as a package of integer constants (§7.4.2, §20.2).
  case s5Malformed

  /// A one-line description for the boot console.
  public var message: StaticString {
    switch self {
    case .rsdpUnreadable: "acpi RSDP cannot be read"
    case .rsdpChecksum: "acpi RSDP checksum is invalid"
    case .rootTableUnreadable: "acpi RSDT/XSDT cannot be read"
    case .rootTableChecksum: "acpi RSDT/XSDT checksum is invalid"
    case .tableTruncated: "acpi table is truncated"
    case .fadtMissing: "acpi FADT is missing or invalid"
    case .pm1aControlBlockMissing: "acpi FADT has no PM1a control port"
    case .dsdtUnreadable: "acpi DSDT cannot be read or is invalid"
    case .s5Missing: "acpi DSDT has no \\_S5 object"
    case .s5Malformed: "acpi \\_S5 object is malformed"
    }
  }
}
