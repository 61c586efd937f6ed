/// A processor listed in the MADT (ACPI 6.4 §5.2.12.2 Processor Local APIC, type 0, and
/// §5.2.12.12 Processor Local x2APIC, type 9).
public struct ACPIProcessor: Equatable, Sendable {
  /// Matches the processor object's _UID in the namespace.
  public var processorUID: UInt32
  /// The local APIC ID (8 bits for type 0) or x2APIC ID.
  public var apicID: UInt32
  /// Flags bit 0: the processor is usable now.
  public var enabled: Bool
  /// Flags bit 1 (§5.2.12.2, Table 5.23): a disabled processor can be brought online later.
  public var onlineCapable: Bool

  public init(processorUID: UInt32, apicID: UInt32, enabled: Bool, onlineCapable: Bool) {
    self.processorUID = processorUID
    self.apicID = apicID
    self.enabled = enabled
    self.onlineCapable = onlineCapable
  }
}

/// An I/O APIC listed in the MADT (ACPI 6.4 §5.2.12.3, type 1).
public struct ACPIIOAPIC: Equatable, Sendable {
  public var id: UInt8
  /// Physical address of its register window.
  public var address: UInt32
  /// The first global system interrupt it handles.
  public var gsiBase: UInt32

  public init(id: UInt8, address: UInt32, gsiBase: UInt32) {
    self.id = id
    self.address = address
    self.gsiBase = gsiBase
  }
}
