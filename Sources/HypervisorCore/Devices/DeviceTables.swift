/// The port-to-device table of one VM. Few devices, so a short linear scan beats hashing;
/// the most used (the UART) is registered first.
public struct PortDeviceTable {
  public struct Entry {
    public var first: UInt16
    public var last: UInt16
    public var device: any PortDevice
  }

  public private(set) var entries: [Entry] = []

  public init() {}

  public mutating func register(_ device: any PortDevice, ports: ClosedRange<UInt16>) {
    entries.append(Entry(first: ports.lowerBound, last: ports.upperBound, device: device))
  }

  /// Inlined: called out of line, the handler retained and released the VM's table around
  /// the call on every IN/OUT (two `swift_release` calls, ~23 instructions per exit).
  @inline(__always)
  public func device(for port: UInt16) -> (any PortDevice)? {
    for entry in entries where port >= entry.first && port <= entry.last { return entry.device }
    return nil
  }
}

/// The guest-physical MMIO regions of one VM and their device models.
public struct MMIODeviceTable {
  public struct Entry {
    public var base: UInt64
    public var size: UInt64
    public var device: any MMIODevice

    public init(base: UInt64, size: UInt64, device: any MMIODevice) {
      self.base = base
      self.size = size
      self.device = device
    }
  }

  public private(set) var entries: [Entry] = []

  public init() {}

  public mutating func register(_ device: any MMIODevice, base: UInt64, size: UInt64) {
    entries.append(Entry(base: base, size: size, device: device))
  }

  public func entry(for guestPhysical: UInt64) -> Entry? {
    for entry in entries
    where guestPhysical >= entry.base && guestPhysical - entry.base < entry.size {
      return entry
    }
    return nil
  }
}
