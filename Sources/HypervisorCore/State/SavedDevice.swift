/// One device model's saved value, of whichever model it is: what a VM's saved state holds
/// per device (`VirtualMachine.saveDevices()`), and what a decoder reads back by kind.
public enum SavedDevice: Equatable {
  case uart(UART16550.State)
  case pit(PIT8254.State)
  case localAPIC(LocalAPICModel.State)
  case ioAPIC(IOAPICModel.State)
  case acpiPower(ACPIPowerDevice.State)
  case testMMIO(TestMMIODevice.State)
  case reset(ResetDevice.State)
  case debugExit(DebugExitPort.State)
  case pmTimer(ACPIPMTimer.State)
  case firmwareConfig(FirmwareConfig.State)
  case pciBus(VirtualPCIBus.State)
  case pciFunction(PCIFunctionState)
  case virtioPCI(VirtioPCIFunction.State)
  case virtioBlock(VirtioBlockDevice.State)
  case virtioNet(VirtioNetDevice.State)
  case virtioEntropy(VirtioEntropyDevice.State)
  case pic(PIC8259Pair.State)
  case pcTestDevice(PCTestDevice.State)
  case pcTestIORAM(PCTestIORAM.State)
  case cmosClock(CMOSClock.State)

  /// The record kind it travels as.
  public var kind: StateRecordKind {
    switch self {
    case .uart: .uart
    case .pit: .pit
    case .localAPIC: .localAPIC
    case .ioAPIC: .ioAPIC
    case .acpiPower: .acpiPower
    case .testMMIO: .testMMIO
    case .reset: .reset
    case .debugExit: .debugExit
    case .pmTimer: .pmTimer
    case .firmwareConfig: .firmwareConfig
    case .pciBus: .pciBus
    case .pciFunction: .pciFunction
    case .virtioPCI: .virtioPCI
    case .virtioBlock: .virtioBlock
    case .virtioNet: .virtioNet
    case .virtioEntropy: .virtioEntropy
    case .pic: .pic
    case .pcTestDevice: .pcTestDevice
    case .pcTestIORAM: .pcTestIORAM
    case .cmosClock: .cmosClock
    }
  }

  /// The whole record, header included.
  public func encoded() -> [UInt8] {
    switch self {
    case .uart(let state): state.encoded()
    case .pit(let state): state.encoded()
    case .localAPIC(let state): state.encoded()
    case .ioAPIC(let state): state.encoded()
    case .acpiPower(let state): state.encoded()
    case .testMMIO(let state): state.encoded()
    case .reset(let state): state.encoded()
    case .debugExit(let state): state.encoded()
    case .pmTimer(let state): state.encoded()
    case .firmwareConfig(let state): state.encoded()
    case .pciBus(let state): state.encoded()
    case .pciFunction(let state): state.encoded()
    case .virtioPCI(let state): state.encoded()
    case .virtioBlock(let state): state.encoded()
    case .virtioNet(let state): state.encoded()
    case .virtioEntropy(let state): state.encoded()
    case .pic(let state): state.encoded()
    case .pcTestDevice(let state): state.encoded()
    case .pcTestIORAM(let state): state.encoded()
    case .cmosClock(let state): state.encoded()
    }
  }

  /// A device record (`entry` from `StateRecord.entries(in:)`), decoded as its kind says.
  public static func decoded(_ entry: StateRecord.Entry) throws(StateDecodingError) -> SavedDevice {
    let bytes = entry.bytes
    switch entry.kind {
    case .uart: return .uart(try UART16550.State.decoded(bytes))
    case .pit: return .pit(try PIT8254.State.decoded(bytes))
    case .localAPIC: return .localAPIC(try LocalAPICModel.State.decoded(bytes))
    case .ioAPIC: return .ioAPIC(try IOAPICModel.State.decoded(bytes))
    case .acpiPower: return .acpiPower(try ACPIPowerDevice.State.decoded(bytes))
    case .testMMIO: return .testMMIO(try TestMMIODevice.State.decoded(bytes))
    case .reset: return .reset(try ResetDevice.State.decoded(bytes))
    case .debugExit: return .debugExit(try DebugExitPort.State.decoded(bytes))
    case .pmTimer: return .pmTimer(try ACPIPMTimer.State.decoded(bytes))
    case .firmwareConfig: return .firmwareConfig(try FirmwareConfig.State.decoded(bytes))
    case .pciBus: return .pciBus(try VirtualPCIBus.State.decoded(bytes))
    case .pciFunction: return .pciFunction(try PCIFunctionState.decoded(bytes))
    case .virtioPCI: return .virtioPCI(try VirtioPCIFunction.State.decoded(bytes))
    case .virtioBlock: return .virtioBlock(try VirtioBlockDevice.State.decoded(bytes))
    case .virtioNet: return .virtioNet(try VirtioNetDevice.State.decoded(bytes))
    case .virtioEntropy: return .virtioEntropy(try VirtioEntropyDevice.State.decoded(bytes))
    case .pic: return .pic(try PIC8259Pair.State.decoded(bytes))
    case .pcTestDevice: return .pcTestDevice(try PCTestDevice.State.decoded(bytes))
    case .pcTestIORAM: return .pcTestIORAM(try PCTestIORAM.State.decoded(bytes))
    case .cmosClock: return .cmosClock(try CMOSClock.State.decoded(bytes))
    case .vcpu, .vm:
      throw .wrongKind(expected: StateRecordKind.uart.rawValue, found: entry.kind.rawValue)
    }
  }
}

extension SavedDevice {
  /// Whether this saved value can go into the model whose value is now `current`: the same
  /// kind, and what the value records of how the model was built (a PCI function's IDs and
  /// class, a virtio function's queue and vector counts, the bus's occupied slots, a NIC's
  /// MAC, a disk's capacity and read-only flag) the same.
  public func fits(_ current: SavedDevice) -> Bool {
    switch (self, current) {
    case (.pciBus(let saved), .pciBus(let now)): return saved.occupiedSlots == now.occupiedSlots
    case (.pciFunction(let saved), .pciFunction(let now)):
      return VirtualPCIConfiguration.sameFunction(saved.configuration, now.configuration)
    case (.virtioPCI(let saved), .virtioPCI(let now)):
      return VirtualPCIConfiguration.sameFunction(saved.configuration, now.configuration)
        && saved.queues.count == now.queues.count && saved.vectors.count == now.vectors.count
    case (.virtioBlock(let saved), .virtioBlock(let now)):
      return saved.capacity == now.capacity && saved.readOnly == now.readOnly
    case (.virtioNet(let saved), .virtioNet(let now)): return saved.mac == now.mac
    default: return kind == current.kind
    }
  }
}

// Each model's saved value as a `SavedDevice`, for a VM's device tables (DeviceProtocols).
extension UART16550 { public func savedDevice() -> SavedDevice? { .uart(save()) } }
extension PIT8254 { public func savedDevice() -> SavedDevice? { .pit(save()) } }
extension IOAPICModel { public func savedDevice() -> SavedDevice? { .ioAPIC(save()) } }
extension ACPIPowerDevice { public func savedDevice() -> SavedDevice? { .acpiPower(save()) } }
extension TestMMIODevice { public func savedDevice() -> SavedDevice? { .testMMIO(save()) } }
extension ResetDevice { public func savedDevice() -> SavedDevice? { .reset(save()) } }
extension DebugExitPort { public func savedDevice() -> SavedDevice? { .debugExit(save()) } }
extension ACPIPMTimer { public func savedDevice() -> SavedDevice? { .pmTimer(save()) } }
extension FirmwareConfig { public func savedDevice() -> SavedDevice? { .firmwareConfig(save()) } }

// Each model takes back its own kind (DeviceProtocols' `restore(savedDevice:)`).
extension UART16550 {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .uart(let state) = saved else { return false }
    restore(state)
    return true
  }
}
extension PIT8254 {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .pit(let state) = saved else { return false }
    restore(state)
    return true
  }
}
extension IOAPICModel {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .ioAPIC(let state) = saved else { return false }
    restore(state)
    return true
  }
}
extension ACPIPowerDevice {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .acpiPower(let state) = saved else { return false }
    restore(state)
    return true
  }
}
extension TestMMIODevice {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .testMMIO(let state) = saved else { return false }
    restore(state)
    return true
  }
}
extension ResetDevice {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .reset(let state) = saved else { return false }
    restore(state)
    return true
  }
}
extension DebugExitPort {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .debugExit(let state) = saved else { return false }
    restore(state)
    return true
  }
}
extension ACPIPMTimer {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .pmTimer(let state) = saved else { return false }
    restore(state)
    return true
  }
}
extension FirmwareConfig {
  public func restore(savedDevice saved: SavedDevice) -> Bool {
    guard case .firmwareConfig(let state) = saved else { return false }
    restore(state)
    return true
  }
}
