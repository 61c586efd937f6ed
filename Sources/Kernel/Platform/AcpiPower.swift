import BootProtocols
import CArch

/// ACPI soft-off (S5): SLP_TYPx | SLP_EN written to PM1a_CNT (and PM1b_CNT when present)
/// (ACPI 6.4 §4.8.3.2.1, §7.4.2). The ports and sleep types come from the FADT and the
/// DSDT's \_S5 object, found at boot; without them this does nothing.
enum AcpiPower {
  static var powerOff: ACPIPowerOff?
  static var enableCommand: ACPIEnableCommand?

  /// Reads the firmware's tables through the identity map.
  struct Tables: ACPIMemory {
    func bytes(at physical: UInt64, count: Int) -> UnsafeRawBufferPointer? {
      guard physical != 0, physical < 1 << 32, count >= 0, count <= 1 << 20 else { return nil }
      return UnsafeRawBufferPointer(
        start: UnsafeRawPointer(bitPattern: UInt(physical)), count: count)
    }
  }

  static func discover(rsdp: RSDP?) {
    guard let rsdp else {
      Log.warning(
        "acpi: no RSDP from the boot loader; power-off will use the emulators' exit ports")
      return
    }
    do {
      let information = try ACPITables.discover(rsdp: rsdp, memory: Tables())
      powerOff = information.powerOff
      enableCommand = information.acpiEnable
      FirmwareProcessors.listed = information.processors
      IOMMU.tablesFound(information.tables)
      PCIExpressConfiguration.tablesFound(information.tables)
      if Log.begin(.info) {
        Console.write("acpi: ")
        Console.write(decimal: UInt64(information.tables.count))
        Console.write(" tables, ")
        Console.write(decimal: UInt64(information.processors.filter { $0.enabled }.count))
        Console.write(" processors")
        if let powerOff = information.powerOff {
          Console.write(", S5 power-off through PM1a_CNT ")
          Console.write(hex: UInt64(powerOff.pm1aControlBlock))
        } else if let error = information.powerOffError {
          Console.write(", no S5 power-off: ")
          Console.write(error.message)
        }
        Log.end()
      }
    } catch {
      Log.begin(.warning)
      Console.write("acpi: tables unusable: ")
      Console.write(error.message)
      Log.end()
    }
  }

  static func enterSoftOff() {
    guard let powerOff else { return }
    // A firmware still in legacy mode must hand ACPI over first (SCI_EN, §4.8.2.5).
    if let enable = enableCommand, arch_inw(powerOff.pm1aControlBlock) & 1 == 0 {
      arch_outb(enable.port, enable.value)
      for _ in 0..<1_000_000 where arch_inw(powerOff.pm1aControlBlock) & 1 == 0 { arch_pause() }
    }
    let current = arch_inw(powerOff.pm1aControlBlock)
    if let b = powerOff.pm1bControlBlock {
      arch_outw(b, powerOff.controlValue(forB: true, preserving: arch_inw(b)))
    }
    arch_outw(powerOff.pm1aControlBlock, powerOff.controlValue(forB: false, preserving: current))
  }
}
