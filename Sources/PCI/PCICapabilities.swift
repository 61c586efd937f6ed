/// A function's capability list (PCI Local Bus 3.0 §6.7): each entry an ID byte and a
/// pointer to the next, starting at the pointer in byte 0x34.
public struct PCICapability: Equatable, Sendable {
  public var id: UInt8
  public var offset: UInt8

  public static let msi: UInt8 = 0x05
  public static let vendorSpecific: UInt8 = 0x09
  public static let pciExpress: UInt8 = 0x10
  public static let msiX: UInt8 = 0x11

  public init(id: UInt8, offset: UInt8) {
    self.id = id
    self.offset = offset
  }

  /// Every capability in list order. Pointers have their low two bits masked off (§6.7);
  /// one below 0x40 (inside the header) ends the walk, and so does the 48th entry (the
  /// most 192 bytes can hold), so a looped or corrupt list cannot run forever.
  public static func list<Space: PCIConfigurationSpace>(
    _ space: Space, header: PCIHeader
  ) -> [PCICapability] {
    guard header.hasCapabilities else { return [] }
    var result: [PCICapability] = []
    var pointer = space.read8(0x34) & 0xFC
    while pointer >= 0x40 && result.count < 48 {
      let word = space.read16(pointer)
      result.append(PCICapability(id: UInt8(truncatingIfNeeded: word), offset: pointer))
      pointer = UInt8(truncatingIfNeeded: word >> 8) & 0xFC
    }
    return result
  }
}

/// The MSI-X capability (PCI Local Bus 3.0 §6.8.2): table size, where the table and the
/// pending-bit array live (BAR index and offset).
public struct MSIXCapability: Equatable, Sendable {
  public var offset: UInt8
  public var tableSize: Int
  public var tableBAR: Int
  public var tableOffset: UInt32
  public var pendingBAR: Int
  public var pendingOffset: UInt32

  /// Nil when the 12-byte structure would run past the configuration space's end.
  public init?<Space: PCIConfigurationSpace>(_ space: Space, at offset: UInt8) {
    guard offset <= 0xFF - 12 else { return nil }
    self.offset = offset
    let control = space.read16(offset + 2)
    tableSize = Int(control & 0x7FF) + 1
    let table = space.read32(offset + 4)
    tableBAR = Int(table & 0x7)
    tableOffset = table & ~0x7
    let pending = space.read32(offset + 8)
    pendingBAR = Int(pending & 0x7)
    pendingOffset = pending & ~0x7
  }

  /// Message control bit 15 (MSI-X enable) set, bit 14 (function mask) clear.
  public static func enable<Space: PCIConfigurationSpace>(_ space: Space, at offset: UInt8) {
    guard offset <= 0xFF - 12 else { return }
    let control = space.read16(offset + 2)
    space.write16(offset + 2, (control | 1 << 15) & ~(1 << 14))
  }

  /// A table entry's message address and data for a fixed, edge-triggered interrupt
  /// `vector` to the local APIC `apicID` in physical destination mode (SDM 3A §11.11.1,
  /// §11.11.2): address 0xFEE0_0000 | ID << 12, data = vector.
  public static func message(vector: UInt8, apicID: UInt8) -> (address: UInt64, data: UInt32) {
    (0xFEE0_0000 | UInt64(apicID) << 12, UInt32(vector))
  }
}
