/// A 128-bit root or context entry (VT-d spec rev 4.1 §9.1, §9.3), as two 64-bit halves
/// stored low first.
public struct RemappingEntry: Equatable, Sendable {
  public var low: UInt64
  public var high: UInt64

  public init(low: UInt64, high: UInt64) {
    self.low = low
    self.high = high
  }

  public static let notPresent = RemappingEntry(low: 0, high: 0)

  /// Root entry (§9.1): bit 0 present, bits 63:12 the bus's context table.
  public static func root(contextTable: UInt64) -> RemappingEntry {
    RemappingEntry(low: (contextTable & ~0xFFF) | 1, high: 0)
  }

  /// Legacy-mode context entry (§9.3) translating through second-level tables only: P (0),
  /// FPD (1) clear so faults are recorded, TT (3:2) = 00 untranslated requests only, SLPTPTR
  /// (63:12) the domain's top table; AW (66:64) the depth (1 = 3 levels, 2 = 4 levels) and
  /// DID (87:72) the domain id.
  public static func context(tables: UInt64, levels: Int, domain: UInt16) -> RemappingEntry {
    RemappingEntry(
      low: (tables & ~0xFFF) | 1, high: UInt64(levels - 2) | UInt64(domain) << 8)
  }

  /// Legacy-mode pass-through context entry (§9.3, TT (3:2) = 10, needs ECAP.PT): the
  /// device's untranslated DMA goes to host-physical addresses unchanged, as with
  /// translation off. For the node's own devices once translation is on for a VM's. AW
  /// must be the largest AGAW the unit supports (`levels` of it); SLPTPTR is ignored.
  public static func passThrough(levels: Int, domain: UInt16) -> RemappingEntry {
    RemappingEntry(low: 0b10 << 2 | 1, high: UInt64(levels - 2) | UInt64(domain) << 8)
  }

  /// TT (3:2): 0 translated through the second-level tables, 2 pass-through.
  public var translationType: Int { Int(low >> 2 & 0b11) }

  public var present: Bool { low & 1 != 0 }
  public var contextTablePointer: UInt64 { low & ~0xFFF }
  public var domain: UInt16 { UInt16(truncatingIfNeeded: high >> 8) }
  public var addressWidthLevels: Int { Int(high & 0x7) + 2 }
}

/// A PCI requester id (bus, device, function), as VT-d source ids carry it (§3.4.1).
public struct RequesterID: Equatable, Hashable, Sendable {
  public var bus: UInt8
  public var device: UInt8
  public var function: UInt8

  public init(bus: UInt8, device: UInt8, function: UInt8) {
    self.bus = bus
    self.device = device & 0x1F
    self.function = function & 0x7
  }

  public init(sourceID: UInt16) {
    self.init(
      bus: UInt8(sourceID >> 8), device: UInt8((sourceID >> 3) & 0x1F),
      function: UInt8(sourceID & 7))
  }

  /// Index into the bus's context table: device·8 + function (§3.4.2).
  public var devfn: Int { Int(device) << 3 | Int(function) }
  public var sourceID: UInt16 { UInt16(bus) << 8 | UInt16(devfn) }
}
