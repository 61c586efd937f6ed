import BootProtocols
import HypervisorCore

/// The VM's PCI platform (PCIPlatform) as the guest's firmware tables describe it: the MCFG
/// and `\_SB.PCI0` (GuestPCIHostBridge), and the ECAM window the e820 map reserves (Linux
/// uses MMCONFIG only where the map reserves it, arch/x86/pci/mmconfig-shared.c).
enum GuestPCIDescription {
  static let hostBridge = GuestPCIHostBridge(
    ecamBase: PCIPlatform.ecamBase, memoryBase: UInt32(PCIPlatform.memoryWindowBase),
    memorySize: UInt32(PCIPlatform.memoryWindowSize),
    firstGSI: UInt32(PCIPlatform.firstINTxGSI), gsiCount: UInt32(PCIPlatform.intxGSICount))

  static var ecamRange: PhysicalRange { hostBridge.ecamRange }

  /// The DMAR's unit for a VM with `iommu=vtd` (docs/virtual-iommu.md): the q35 register
  /// page, 48-bit addresses (the unit's MGAW), and the I/O APIC (ID after the vCPUs', as
  /// the MADT says) under it; nil without one.
  static func remappingUnit(_ profile: VMProfile, vcpuCount: Int) -> GuestDMARUnit? {
    guard profile.virtualIOMMU else { return nil }
    return GuestDMARUnit(
      registerBase: VirtualRemappingIdentity.base,
      hostAddressWidth: UInt8(VirtualRemappingIdentity.capability.maximumGuestAddressWidth),
      ioAPICID: UInt8(truncatingIfNeeded: vcpuCount))
  }
}
