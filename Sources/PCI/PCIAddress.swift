/// A PCI function's place: bus, device (0-31), function (0-7).
public struct PCIAddress: Equatable, Hashable, Sendable {
  public let bus: UInt8
  public let device: UInt8
  public let function: UInt8

  public init(bus: UInt8, device: UInt8, function: UInt8) {
    self.bus = bus
    self.device = device & 0x1F
    self.function = function & 0x7
  }

  /// The CONFIG_ADDRESS value (port 0xCF8) of configuration mechanism #1 (PCI Local Bus
  /// 3.0 §3.2.2.3.2): enable bit 31, bus 23:16, device 15:11, function 10:8, dword-aligned
  /// register 7:2.
  public func configAddress(offset: UInt8) -> UInt32 {
    1 << 31 | UInt32(bus) << 16 | UInt32(device) << 11 | UInt32(function) << 8
      | UInt32(offset & 0xFC)
  }
}

/// A function's 256-byte configuration space, as dwords. The kernel reaches it through
/// ports 0xCF8/0xCFC; tests through a fake.
public protocol PCIConfigurationSpace {
  func read32(_ offset: UInt8) -> UInt32
  func write32(_ offset: UInt8, _ value: UInt32)
}

extension PCIConfigurationSpace {
  public func read16(_ offset: UInt8) -> UInt16 {
    UInt16(truncatingIfNeeded: read32(offset & 0xFC) >> (UInt32(offset & 2) * 8))
  }

  public func read8(_ offset: UInt8) -> UInt8 {
    UInt8(truncatingIfNeeded: read32(offset & 0xFC) >> (UInt32(offset & 3) * 8))
  }

  /// Writes 16 bits, keeping the dword's other half as read.
  public func write16(_ offset: UInt8, _ value: UInt16) {
    let shift = UInt32(offset & 2) * 8
    let old = read32(offset & 0xFC) & ~(0xFFFF << shift)
    write32(offset & 0xFC, old | UInt32(value) << shift)
  }
}
