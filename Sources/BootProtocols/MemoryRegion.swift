/// The `type` field of a Multiboot2 memory map entry (Multiboot2 spec §3.6.8).
public enum MemoryRegionKind: Equatable, Sendable {
  case usable
  case reserved
  case acpiReclaimable
  case acpiNVS
  case defective
  /// Any value the spec does not name; the spec says such areas are reserved.
  case other(UInt32)

  /// Decodes the raw `type` field (1 = available, 2 = reserved, 3 = ACPI, 4 = NVS, 5 = bad RAM).
  public init(rawType: UInt32) {
    switch rawType {
    case 1: self = .usable
    case 2: self = .reserved
    case 3: self = .acpiReclaimable
    case 4: self = .acpiNVS
    case 5: self = .defective
    default: self = .other(rawType)
    }
  }
}

/// One entry of the firmware memory map.
public struct MemoryRegion: Equatable, Sendable {
  public var range: PhysicalRange
  public var kind: MemoryRegionKind

  public init(range: PhysicalRange, kind: MemoryRegionKind) {
    self.range = range
    self.kind = kind
  }
}
