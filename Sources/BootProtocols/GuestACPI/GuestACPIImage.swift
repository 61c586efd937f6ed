/// ACPI tables built for a guest: one block of bytes to copy to `base`, and where each
/// table landed in guest-physical memory.
public struct GuestACPIImage: Equatable, Sendable {
  /// Guest-physical address of `bytes[0]`.
  public var base: UInt64
  public var bytes: [UInt8]
  /// The RSDP, at `base` so the legacy 0xE0000–0xFFFFF scan finds it (ACPI 6.4 §5.2.5.1).
  public var rsdpAddress: UInt64
  public var facsAddress: UInt64
  public var rsdtAddress: UInt64
  public var xsdtAddress: UInt64
  public var fadtAddress: UInt64
  public var madtAddress: UInt64
  public var dsdtAddress: UInt64
  /// The MCFG, where the machine has a PCI host bridge.
  public var mcfgAddress: UInt64? = nil
  /// The DMAR, where the machine has a virtual VT-d unit.
  public var dmarAddress: UInt64? = nil

  /// The guest-physical range `bytes` occupies.
  public var range: PhysicalRange {
    PhysicalRange(start: base, end: base + UInt64(bytes.count))
  }
}
