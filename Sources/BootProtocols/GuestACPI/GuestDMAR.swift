/// The DMAR table of a guest with a virtual VT-d unit (VT-d spec rev 4.1 §8.1-§8.3): one
/// DRHD for PCI segment 0 with INCLUDE_PCI_ALL (every function on the bus is behind it) and
/// the I/O APIC's device scope (§8.3.1, type 3), as QEMU's q35 describes its `intel-iommu`.
public struct GuestDMARUnit: Equatable, Sendable {
  /// The unit's register page.
  public var registerBase: UInt64
  /// HAW: the DMA addresses the platform decodes, in bits.
  public var hostAddressWidth: UInt8
  /// The I/O APIC under the unit: its ID (the MADT's) and its source id (bus, device,
  /// function).
  public var ioAPICID: UInt8
  public var ioAPICBus: UInt8
  public var ioAPICDevice: UInt8
  public var ioAPICFunction: UInt8

  public init(
    registerBase: UInt64, hostAddressWidth: UInt8, ioAPICID: UInt8, ioAPICBus: UInt8 = 0xFF,
    ioAPICDevice: UInt8 = 0, ioAPICFunction: UInt8 = 0
  ) {
    self.registerBase = registerBase
    self.hostAddressWidth = hostAddressWidth
    self.ioAPICID = ioAPICID
    self.ioAPICBus = ioAPICBus
    self.ioAPICDevice = ioAPICDevice
    self.ioAPICFunction = ioAPICFunction
  }
}

enum GuestDMAR {
  static let signature: [UInt8] = Array("DMAR".utf8)
  static let revision: UInt8 = 1
  /// Flags (§8.1): INTR_REMAP (0), X2APIC_OPT_OUT (1): the unit has no x2APIC mode (no
  /// ECAP.EIM), so the guest keeps xAPIC destinations.
  static let flags: UInt8 = 0b11

  static func make(_ unit: GuestDMARUnit) -> [UInt8] {
    // Host Address Width (HAW - 1), Flags, 10 reserved bytes.
    var body: [UInt8] = [unit.hostAddressWidth - 1, flags] + [UInt8](repeating: 0, count: 10)
    // I/O APIC device scope (§8.3.1): type 3, length 8, 2 reserved, enumeration ID (the
    // I/O APIC ID), start bus, one path entry (device, function).
    let scope: [UInt8] = [
      3, 8, 0, 0, unit.ioAPICID, unit.ioAPICBus, unit.ioAPICDevice, unit.ioAPICFunction,
    ]
    // DRHD (§8.3): type 0, length, flags INCLUDE_PCI_ALL (0), size 0 (one 4 KiB page),
    // segment 0, register base, device scopes.
    body.appendLittleEndian(UInt16(0))
    body.appendLittleEndian(UInt16(16 + scope.count))
    body += [1, 0]
    body.appendLittleEndian(UInt16(0))
    body.appendLittleEndian(unit.registerBase)
    body += scope
    return GuestACPITable.make(signature: signature, revision: revision, body: body)
  }
}
