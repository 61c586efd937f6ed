import CArch

/// ACPI soft-off (S5): write SLP_TYPa | SLP_EN to PM1a_CNT (ACPI 6.4 §4.8.3.2.1,
/// §7.4.2). The port and sleep type come from the FADT and the DSDT's \_S5 object,
/// found at boot; until they are known this does nothing.
enum AcpiPower {
  static var pm1aControlPort: UInt16?
  static var sleepTypeS5: UInt16 = 0

  static func enterSoftOff() {
    guard let port = pm1aControlPort else { return }
    arch_outw(port, sleepTypeS5 << 10 | 1 << 13)
  }
}
