/// The fields every function's configuration header has (PCI Local Bus 3.0 §6.1).
public struct PCIHeader: Equatable, Sendable {
  public var vendorID: UInt16
  public var deviceID: UInt16
  public var classCode: UInt8
  public var subclass: UInt8
  public var programmingInterface: UInt8
  public var revision: UInt8
  /// Bits 6:0 of the header type: 0 a device, 1 a PCI-to-PCI bridge, 2 a CardBus bridge.
  public var layout: UInt8
  /// Header type bit 7: functions 1-7 exist only on a multi-function device.
  public var isMultiFunction: Bool
  public var status: UInt16

  public static let noDevice: UInt16 = 0xFFFF

  /// The header, or nil when no function answers (vendor ID all ones, §6.2.1).
  public init?<Space: PCIConfigurationSpace>(_ space: Space) {
    let ids = space.read32(0x00)
    guard UInt16(truncatingIfNeeded: ids) != Self.noDevice, ids != 0 else { return nil }
    vendorID = UInt16(truncatingIfNeeded: ids)
    deviceID = UInt16(truncatingIfNeeded: ids >> 16)
    let classWord = space.read32(0x08)
    revision = UInt8(truncatingIfNeeded: classWord)
    programmingInterface = UInt8(truncatingIfNeeded: classWord >> 8)
    subclass = UInt8(truncatingIfNeeded: classWord >> 16)
    classCode = UInt8(truncatingIfNeeded: classWord >> 24)
    let type = space.read8(0x0E)
    layout = type & 0x7F
    isMultiFunction = type & 0x80 != 0
    status = space.read16(0x06)
  }

  /// An SR-IOV virtual function's header: its vendor and device ID registers read 0xFFFF
  /// (PCIe Base 4.0 §9.3.4.1.1/2), so they come from the PF (its vendor ID, the VF Device ID
  /// of its SR-IOV capability); the rest is the VF's own.
  public init<Space: PCIConfigurationSpace>(
    virtualFunction space: Space, vendorID: UInt16, deviceID: UInt16
  ) {
    self.vendorID = vendorID
    self.deviceID = deviceID
    let classWord = space.read32(0x08)
    revision = UInt8(truncatingIfNeeded: classWord)
    programmingInterface = UInt8(truncatingIfNeeded: classWord >> 8)
    subclass = UInt8(truncatingIfNeeded: classWord >> 16)
    classCode = UInt8(truncatingIfNeeded: classWord >> 24)
    layout = space.read8(0x0E) & 0x7F
    isMultiFunction = false
    status = space.read16(0x06)
  }

  /// Status bit 4: the capability list at 0x34 is valid (§6.2.3).
  public var hasCapabilities: Bool { status & (1 << 4) != 0 }

  /// Class 0x02 (network controller).
  public var isNetworkController: Bool { classCode == 0x02 }

  /// How many BARs the layout has: six for a device, two for a bridge.
  public var barCount: Int {
    switch layout {
    case 0: 6
    case 1: 2
    default: 0
    }
  }
}

/// The command register's bits used here (§6.2.2).
public enum PCICommand {
  public static let ioSpace: UInt16 = 1 << 0
  public static let memorySpace: UInt16 = 1 << 1
  public static let busMaster: UInt16 = 1 << 2
  public static let interruptDisable: UInt16 = 1 << 10
}
