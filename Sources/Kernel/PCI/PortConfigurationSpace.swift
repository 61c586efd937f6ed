import CArch
import PCI

/// A function's configuration space through configuration mechanism #1 (PCI Local Bus 3.0
/// §3.2.2.3.2): the dword's address to CONFIG_ADDRESS (0xCF8), its data at CONFIG_DATA
/// (0xCFC). Only the bootstrap processor uses it, at boot and from the network's service
/// on CPU 0, so the two-port sequence needs no lock.
struct PortConfigurationSpace: PCIConfigurationSpace {
  static let addressPort: UInt16 = 0xCF8
  static let dataPort: UInt16 = 0xCFC
  let address: PCIAddress

  func read32(_ offset: UInt8) -> UInt32 {
    arch_outl(Self.addressPort, address.configAddress(offset: offset))
    return arch_inl(Self.dataPort)
  }

  func write32(_ offset: UInt8, _ value: UInt32) {
    arch_outl(Self.addressPort, address.configAddress(offset: offset))
    arch_outl(Self.dataPort, value)
  }
}
