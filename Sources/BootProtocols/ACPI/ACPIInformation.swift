/// What the hypervisor learns from the ACPI tables.
public struct ACPIInformation: Equatable, Sendable {
  /// Every table found: the RSDT/XSDT, the tables it lists and the DSDT, including those
  /// whose checksum failed (`header.checksumValid == false`), which are otherwise ignored.
  public var tables: [ACPITableEntry]
  /// How to power the machine off, nil when the tables do not say; see `powerOffError`.
  public var powerOff: ACPIPowerOff?
  /// Why `powerOff` is nil.
  public var powerOffError: ACPIError?
  /// Set when the FADT names an SMI command port to switch into ACPI mode.
  public var acpiEnable: ACPIEnableCommand?
  /// The FADT reset register, when its RESET_REG_SUP flag is set.
  public var resetRegister: ACPIResetRegister?
  /// Processors from the MADT, in table order.
  public var processors: [ACPIProcessor]
  /// The local APIC base from the MADT, after any type 5 override; nil without a MADT.
  public var localAPICAddress: UInt64?
  /// MADT flags bit 0 (PCAT_COMPAT): dual 8259 PICs are present and must be masked.
  public var hasLegacyPICs: Bool
  public var ioAPICs: [ACPIIOAPIC]

  public init(
    tables: [ACPITableEntry] = [], powerOff: ACPIPowerOff? = nil,
    powerOffError: ACPIError? = nil, acpiEnable: ACPIEnableCommand? = nil,
    resetRegister: ACPIResetRegister? = nil, processors: [ACPIProcessor] = [],
    localAPICAddress: UInt64? = nil, hasLegacyPICs: Bool = false, ioAPICs: [ACPIIOAPIC] = []
  ) {
    self.tables = tables
    self.powerOff = powerOff
    self.powerOffError = powerOffError
    self.acpiEnable = acpiEnable
    self.resetRegister = resetRegister
    self.processors = processors
    self.localAPICAddress = localAPICAddress
    self.hasLegacyPICs = hasLegacyPICs
    self.ioAPICs = ioAPICs
  }
}
