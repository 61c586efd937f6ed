/// Where guest console output goes: the hypervisor console in the kernel, a buffer in tests.
public protocol ConsoleSink: AnyObject {
  /// One byte of output from the VM named `vmName`; the sink tags and line-buffers it.
  func write(_ byte: UInt8, from vmName: [UInt8])
}

/// What a device write asks of the hypervisor beyond the write itself.
public enum DeviceEffect: Equatable {
  case none
  /// The guest asked for its VM to end (the debug-exit port).
  case stopVM(code: UInt64)
  /// ACPI soft-off (S5).
  case powerOff
  /// A reset request; the VM ends (guests are not restarted).
  case reset

  /// The VM's end this effect asks for, if any.
  public var stopReason: StopReason? {
    switch self {
    case .none: return nil
    case .stopVM(let code): return .debugExit(value: code)
    case .powerOff: return .poweredOff
    case .reset: return .reset
    }
  }
}

/// A device model on I/O ports. Class-bound, so devices sit in a table of existentials,
/// which Embedded Swift allows for class-bound protocols.
public protocol PortDevice: AnyObject {
  func read(port: UInt16, size: UInt8) -> UInt32
  func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect
  /// Its state as a value (StatefulDevice), for a VM's saved state; nil for a model
  /// without one. Called under the VM's device lock.
  func savedDevice() -> SavedDevice?
  /// Puts back a value `savedDevice()` gave (on this node or another): false when `saved`
  /// is not this model's kind. Called under the VM's device lock, while no vCPU runs.
  func restore(savedDevice saved: SavedDevice) -> Bool
}

extension PortDevice {
  public func savedDevice() -> SavedDevice? { nil }
  public func restore(savedDevice saved: SavedDevice) -> Bool { false }
}

/// A device model in guest-physical MMIO space. Offsets are relative to its region's base.
public protocol MMIODevice: AnyObject {
  func read(offset: UInt64, size: UInt8) -> UInt64
  func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect
  /// As `PortDevice.savedDevice()`.
  func savedDevice() -> SavedDevice?
  /// As `PortDevice.restore(savedDevice:)`.
  func restore(savedDevice saved: SavedDevice) -> Bool
}

extension MMIODevice {
  public func savedDevice() -> SavedDevice? { nil }
  public func restore(savedDevice saved: SavedDevice) -> Bool { false }
}
