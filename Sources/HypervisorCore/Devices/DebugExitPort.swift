/// Port 0xF4 in the guest: writing a value stops the VM with that exit code, like QEMU's
/// isa-debug-exit device, so bare test guests can end themselves without hypercalls.
public final class DebugExitPort: PortDevice {
  public init() {}

  public func read(port: UInt16, size: UInt8) -> UInt32 { 0 }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    .stopVM(code: UInt64(value))
  }
}

extension DebugExitPort: StatefulDevice {
  /// The port holds nothing: a write ends the VM.
  public struct State: Equatable { public init() {} }

  public func save() -> State { State() }
  public func restore(_ state: State) {}
}
