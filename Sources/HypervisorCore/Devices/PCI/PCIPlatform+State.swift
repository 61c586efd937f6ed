/// The PCI platform's saved state (docs/vm-state.md, "PCI and virtio"): the bus's record
/// where its configuration ports sit in the port table, each function's records after the
/// tables, in slot order (`VirtualMachine.saveDevices`). BARs need no regions of their own:
/// the memory window decodes each access by the BARs' current values (VirtualPCIBus.decoder),
/// so a restored configuration space moves every BAR back to where the guest had it.

/// A PCI function's configuration space as saved: `VirtualPCIConfiguration.savedImage`.
public struct PCIFunctionState: Equatable {
  public var configuration: [UInt8]

  public init(configuration: [UInt8]) { self.configuration = configuration }
}

extension VirtualPCIBus: StatefulDevice {
  public struct State: Equatable {
    /// The CF8 address register (bit 31 enable, bus, device, function, register).
    public var addressLatch: UInt32 = 0
    /// Bit n set: slot n holds a function. How the VM was built, compared on restore.
    public var occupiedSlots: UInt32 = 0

    public init(addressLatch: UInt32 = 0, occupiedSlots: UInt32 = 0) {
      self.addressLatch = addressLatch
      self.occupiedSlots = occupiedSlots
    }
  }

  public func save() -> State {
    var slots: UInt32 = 0
    for slot in 0..<32 where function(at: slot) != nil { slots |= 1 << UInt32(slot) }
    return State(addressLatch: addressLatch, occupiedSlots: slots)
  }

  public func restore(_ state: State) { restoreAddressLatch(state.addressLatch) }

  /// Every function's records, slot by slot.
  public func savedFunctions() -> [SavedDevice] {
    var saved: [SavedDevice] = []
    for slot in 0..<32 {
      if let function = function(at: slot) { saved += function.savedDevices() }
    }
    return saved
  }
}

extension PCIConfigurationPorts {
  public func savedDevice() -> SavedDevice? { .pciBus(bus.save()) }

  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .pciBus(let state) = saved else { return false }
    bus.restore(state)
    return true
  }
}
