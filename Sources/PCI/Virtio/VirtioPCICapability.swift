/// A virtio structure's location, from a vendor-specific PCI capability (virtio 1.1
/// §4.1.4): which structure (cfg_type), which BAR, and where in it.
public struct VirtioPCICapability: Equatable, Sendable {
  public enum Kind: UInt8, Sendable {
    case common = 1
    case notify = 2
    case isr = 3
    case device = 4
    case pciConfiguration = 5
  }

  public var kind: Kind
  public var bar: Int
  public var offset: UInt32
  public var length: UInt32
  /// Notification structures only (§4.1.4.4): a queue's notify address is the structure's
  /// start + queue_notify_off * this multiplier.
  public var notifyOffsetMultiplier: UInt32

  public init(kind: Kind, bar: Int, offset: UInt32, length: UInt32, notifyOffsetMultiplier: UInt32)
  {
    self.kind = kind
    self.bar = bar
    self.offset = offset
    self.length = length
    self.notifyOffsetMultiplier = notifyOffsetMultiplier
  }

  /// Decodes the capability at `offset` (struct virtio_pci_cap: cap_vndr, cap_next,
  /// cap_len, cfg_type, bar, id, padding[2], offset, length; then notify_off_multiplier
  /// for notify). Nil for unknown cfg_type, a BAR index above 5 (reserved, §4.1.4: the
  /// driver must ignore it) or a cap_len too short for its fields.
  public static func decode<Space: PCIConfigurationSpace>(
    _ space: Space, at offset: UInt8
  ) -> VirtioPCICapability? {
    guard offset <= 0xFF - 16 else { return nil }
    let head = space.read32(offset)
    let capLength = UInt8(truncatingIfNeeded: head >> 16)
    guard let kind = Kind(rawValue: UInt8(truncatingIfNeeded: head >> 24)), capLength >= 16
    else { return nil }
    let bar = Int(space.read8(offset + 4))
    guard bar <= 5 else { return nil }
    var multiplier: UInt32 = 0
    if kind == .notify {
      guard capLength >= 20, offset <= 0xFF - 20 else { return nil }
      multiplier = space.read32(offset + 16)
    }
    return VirtioPCICapability(
      kind: kind, bar: bar, offset: space.read32(offset + 8), length: space.read32(offset + 12),
      notifyOffsetMultiplier: multiplier)
  }

  /// Every virtio structure a function's capability list names, the first of each kind
  /// (the driver uses the first it can, §4.1.4).
  public static func all<Space: PCIConfigurationSpace>(
    _ space: Space, capabilities: [PCICapability]
  ) -> [VirtioPCICapability] {
    var found: [VirtioPCICapability] = []
    for capability in capabilities where capability.id == PCICapability.vendorSpecific {
      guard let decoded = decode(space, at: capability.offset),
        !found.contains(where: { $0.kind == decoded.kind })
      else { continue }
      found.append(decoded)
    }
    return found
  }
}

/// Virtio PCI identities (virtio 1.1 §4.1.2): vendor 0x1AF4; a modern-only device's ID is
/// 0x1040 + the device type (network: 1); transitional IDs 0x1000-0x103F (0x1000 network).
public enum VirtioPCIIdentity {
  public static let vendor: UInt16 = 0x1AF4
  public static let modernNetwork: UInt16 = 0x1041
  public static let transitionalNetwork: UInt16 = 0x1000

  public static func isNetwork(vendor: UInt16, device: UInt16) -> Bool {
    vendor == Self.vendor && (device == modernNetwork || device == transitionalNetwork)
  }
}
