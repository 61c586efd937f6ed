import CArch
import HypervisorCore
import PCI

/// The node's side of a passed-through function (docs/passthrough.md): what the guest's
/// view is built from, read from the host function (`describe`), and the node's hands on
/// it (`HostPassthroughAccess`).
enum PassthroughHostFunction {
  /// The host function's description: identity, memory BARs as sized by `PCIBus` (PCI
  /// Local Bus 3.0 §6.2.5.1), the vendor-specific capabilities' bodies (§6.7, ID 09h: byte
  /// 2 is the capability's length, ID and next pointer included) and the MSI-X layout
  /// (§6.8.2). Nil for a layout other than 0 (bridges are refused at claim).
  static func describe(_ function: PCIFunction) -> PassthroughHostDescription? {
    guard function.header.layout == 0 else { return nil }
    let space = function.space
    var bars: [PassthroughHostDescription.BAR?] = []
    for bar in function.bars {
      guard case .memory(let base, let size, let is64Bit, let prefetchable) = bar,
        size >= 16, size & (size - 1) == 0
      else {
        bars.append(nil)
        continue
      }
      bars.append(
        PassthroughHostDescription.BAR(
          VirtualBAR(is64Bit ? .memory64 : .memory32, size: size, prefetchable: prefetchable),
          hostAddress: base))
    }
    var vendor: [[UInt8]] = []
    var msix: PassthroughHostDescription.MSIX? = nil
    var hasMSI = false
    for capability in function.capabilities {
      switch capability.id {
      case PCICapability.vendorSpecific:
        let length = Int(space.read8(capability.offset &+ 2))
        guard length >= 3, Int(capability.offset) + length <= 256 else { continue }
        var body: [UInt8] = []
        for index in 2..<length { body.append(space.read8(capability.offset + UInt8(index))) }
        vendor.append(body)
      case PCICapability.msiX:
        guard let found = MSIXCapability(space, at: capability.offset) else { continue }
        msix = PassthroughHostDescription.MSIX(
          tableSize: found.tableSize, tableBAR: found.tableBAR,
          tableOffset: UInt64(found.tableOffset), pendingBAR: found.pendingBAR,
          pendingOffset: UInt64(found.pendingOffset))
      case PCICapability.msi: hasMSI = true
      default: continue
      }
    }
    return PassthroughHostDescription(
      vendorID: function.header.vendorID, deviceID: function.header.deviceID,
      classCode: function.header.classCode, subclass: function.header.subclass,
      programmingInterface: function.header.programmingInterface,
      revision: function.header.revision, subsystemVendorID: space.read16(0x2C),
      subsystemID: space.read16(0x2E), bars: bars, vendorCapabilities: vendor, msix: msix,
      hasMSI: hasMSI)
  }
}

/// A passed-through function's MMIO (uncached, through the kernel's identity map: the
/// BARs are mapped as devices by `KernelPageTables.mapDevice` when the VM is built) and its
/// command register (port configuration space, whose lock lets any CPU running the
/// guest's vCPU write it). Accesses outside a BAR read all ones and write nothing.
final class HostPassthroughAccess: PassthroughHostAccess {
  let address: PCIAddress
  private let bars: [(base: UInt64, size: UInt64)?]

  init(address: PCIAddress, description: PassthroughHostDescription) {
    self.address = address
    bars = description.bars.map { $0.map { ($0.hostAddress, $0.bar.size) } }
  }

  /// Maps every BAR into the kernel's page tables as device memory; false if one can't be.
  func mapBARs() -> Bool {
    for bar in bars {
      guard let bar else { continue }
      guard KernelPageTables.mapDevice(physical: bar.base, length: bar.size) else { return false }
    }
    return true
  }

  private func hostAddress(bar: Int, offset: UInt64, size: UInt8) -> UInt64? {
    guard bar >= 0, bar < bars.count, let region = bars[bar],
      size == 1 || size == 2 || size == 4 || size == 8, offset < region.size,
      UInt64(size) <= region.size - offset
    else { return nil }
    return region.base + offset
  }

  func readMMIO(bar: Int, offset: UInt64, size: UInt8) -> UInt64 {
    guard let at = hostAddress(bar: bar, offset: offset, size: size) else {
      return size >= 8 ? UInt64.max : (1 << (8 * UInt64(size))) - 1
    }
    switch size {
    case 1: return UInt64(mmio_read8(at))
    case 2: return UInt64(mmio_read16(at))
    case 4: return UInt64(mmio_read32(at))
    default: return UInt64(mmio_read32(at)) | UInt64(mmio_read32(at + 4)) << 32
    }
  }

  func writeMMIO(bar: Int, offset: UInt64, size: UInt8, value: UInt64) {
    guard let at = hostAddress(bar: bar, offset: offset, size: size) else { return }
    switch size {
    case 1: mmio_write8(at, UInt8(truncatingIfNeeded: value))
    case 2: mmio_write16(at, UInt16(truncatingIfNeeded: value))
    case 4: mmio_write32(at, UInt32(truncatingIfNeeded: value))
    default: mmio_write64_halves(at, value)
    }
  }

  /// Memory space and bus master as the guest asks; I/O decoding stays off and INTx
  /// disabled (the guest gets neither, PCI Local Bus 3.0 §6.2.2). Status (the dword's upper
  /// half) is written as zeros: its bits are write-one-to-clear (§6.2.3).
  func setCommand(memorySpace: Bool, busMaster: Bool) {
    let space = PortConfigurationSpace(address: address)
    var command = space.read16(0x04) & ~(PCICommand.ioSpace | PCICommand.memorySpace)
    command &= ~PCICommand.busMaster
    command |= PCICommand.interruptDisable
    if memorySpace { command |= PCICommand.memorySpace }
    if busMaster { command |= PCICommand.busMaster }
    space.write32(0x04, UInt32(command))
  }
}
