import CArch
import HypervisorCore
import PCI

/// A function's configuration space through configuration mechanism #1 (PCI Local Bus 3.0
/// §3.2.2.3.2): the dword's address to CONFIG_ADDRESS (0xCF8), its data at CONFIG_DATA
/// (0xCFC). The two-port sequence is one transaction only if no other CPU writes
/// CONFIG_ADDRESS in between, so every access holds `lock`: the boot enumeration, the
/// network service and passthrough claims and resets on CPU 0, and a passed-through
/// function's command register written by whichever CPU runs the guest's vCPU
/// (docs/passthrough.md). The hypervisor runs with interrupts masked, so no handler can
/// interrupt a holder; the lock is held for two port accesses at a time.
struct PortConfigurationSpace: PCIConfigurationSpace {
  static let addressPort: UInt16 = 0xCF8
  static let dataPort: UInt16 = 0xCFC
  private static let lock = TicketLock()
  let address: PCIAddress

  func read32(_ offset: UInt8) -> UInt32 {
    Self.lock.withLock {
      arch_outl(Self.addressPort, address.configAddress(offset: offset))
      return arch_inl(Self.dataPort)
    }
  }

  func write32(_ offset: UInt8, _ value: UInt32) {
    Self.lock.withLock {
      arch_outl(Self.addressPort, address.configAddress(offset: offset))
      arch_outl(Self.dataPort, value)
    }
  }
}
