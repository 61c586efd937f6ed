/// The guest's ACPI fixed hardware for power: PM1a_EVT_BLK (status and enable, 2 bytes
/// each) and PM1a_CNT_BLK, at the ports the guest's FADT names (ACPI 6.4 §4.8.3). The guest
/// is always in ACPI mode (SMI_CMD is 0), so SCI_EN reads as 1. Writing SLP_EN with the
/// sleep type of \_S5 powers the VM off; other sleep states are not offered.
public final class ACPIPowerDevice: PortDevice {
  public let eventBlock: UInt16
  public let controlBlock: UInt16
  public let softOffType: UInt16
  private var status: UInt16 = 0
  private var enable: UInt16 = 0
  private var control: UInt16 = 1  // SCI_EN

  public init(eventBlock: UInt16 = 0x600, controlBlock: UInt16 = 0x604, softOffType: UInt8 = 5) {
    self.eventBlock = eventBlock
    self.controlBlock = controlBlock
    self.softOffType = UInt16(softOffType)
  }

  public func read(port: UInt16, size: UInt8) -> UInt32 {
    switch port {
    case eventBlock: return UInt32(status) | UInt32(enable) << 16
    case eventBlock + 2: return UInt32(enable)
    case controlBlock: return UInt32(control)
    default: return 0
    }
  }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    switch port {
    case eventBlock:
      status &= ~UInt16(truncatingIfNeeded: value)  // write-one-to-clear
      if size == 4 { enable = UInt16(truncatingIfNeeded: value >> 16) }
    case eventBlock + 2:
      enable = UInt16(truncatingIfNeeded: value)
    case controlBlock:
      let written = UInt16(truncatingIfNeeded: value)
      control = written & ~(1 << 13) | 1
      if written & (1 << 13) != 0 && (written >> 10) & 7 == softOffType { return .powerOff }
    default:
      break
    }
    return .none
  }
}

/// The reset paths a PC guest uses: the reset control register at 0xCF9 (RST_CPU, bit 2)
/// and the 8042's pulse-reset command 0xFE on port 0x64. Either ends the VM with a report;
/// the hypervisor does not restart guests.
public final class ResetDevice: PortDevice {
  public init() {}

  /// 0xCF9 reads back 0; the 8042's status port reads 0 (input buffer empty, no data).
  public func read(port: UInt16, size: UInt8) -> UInt32 { 0 }

  public func write(port: UInt16, size: UInt8, value: UInt32) -> DeviceEffect {
    switch port {
    case 0xCF9 where value & 0x4 != 0: return .reset
    case 0x64 where value & 0xFF == 0xFE: return .reset
    default: return .none
    }
  }
}

extension ACPIPowerDevice: StatefulDevice {
  /// PM1a status, enable and control (ACPI 6.4 §4.8.3.1, §4.8.3.2).
  public struct State: Equatable {
    public var status: UInt16 = 0
    public var enable: UInt16 = 0
    public var control: UInt16 = 1

    public init() {}
  }

  public func save() -> State {
    var state = State()
    state.status = status
    state.enable = enable
    state.control = control
    return state
  }

  public func restore(_ state: State) {
    status = state.status
    enable = state.enable
    control = state.control & ~(1 << 13) | 1  // SLP_EN reads 0, SCI_EN 1
  }
}

extension ResetDevice: StatefulDevice {
  /// The reset paths hold nothing.
  public struct State: Equatable { public init() {} }

  public func save() -> State { State() }
  public func restore(_ state: State) {}
}
