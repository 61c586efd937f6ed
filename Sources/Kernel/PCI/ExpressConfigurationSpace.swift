import BootProtocols
import CArch
import PCI

/// A function's 4 KiB configuration space through the MCFG's ECAM window (PCIe Base 4.0
/// §7.2.2), for the extended capabilities at 0x100-0xFFF (SR-IOV) that ports 0xCF8/0xCFC
/// cannot reach. The window lies in the PCI hole below 4 GiB on q35 (0xB0000000), inside
/// the boot identity map; the firmware's MTRRs decide its memory type.
struct ECAMConfigurationSpace: PCIExpressConfigurationSpace {
  let base: UInt64

  func read32(_ offset: UInt16) -> UInt32 { mmio_read32(base + UInt64(offset & 0xFFC)) }
  func write32(_ offset: UInt16, _ value: UInt32) {
    mmio_write32(base + UInt64(offset & 0xFFC), value)
  }
}

enum PCIExpressConfiguration {
  /// Segment 0's ECAM allocations from the MCFG, set once by the ACPI walk at boot.
  nonisolated(unsafe) static var regions: [PCIExpressConfigurationRegion] = []

  /// From the ACPI walk: parses the MCFG, if the firmware has one with a valid checksum.
  static func tablesFound(_ tables: [ACPITableEntry]) {
    guard
      let mcfg = tables.first(where: {
        $0.header.signature == [0x4D, 0x43, 0x46, 0x47] && $0.header.checksumValid
      }), let bytes = AcpiPower.Tables().bytes(at: mcfg.address, count: Int(mcfg.header.length))
    else { return }
    regions = PCIExpressConfigurationRegion.parse(mcfg: Array(bytes)).filter {
      $0.segment == 0
    }
  }

  /// `address`'s extended configuration space, or nil when no ECAM window covers its bus
  /// or the window could not be mapped.
  static func space(_ address: PCIAddress) -> ECAMConfigurationSpace? {
    guard let region = regions.first(where: { $0.functionBase(address) != nil }),
      let base = region.functionBase(address),
      KernelPageTables.mapDevice(physical: base, length: 4096)
    else { return nil }
    return ECAMConfigurationSpace(base: base)
  }
}
