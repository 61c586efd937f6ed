/// A function's 4 KiB PCI Express configuration space (PCIe Base 4.0 §7.2.2: the enhanced
/// configuration access mechanism, ECAM), as dwords. Offsets 0x100-0xFFF hold the extended
/// capabilities, which configuration mechanism #1 (ports 0xCF8/0xCFC, 256 bytes) cannot
/// reach. The kernel reads it through the MCFG's memory window; tests through a fake.
public protocol PCIExpressConfigurationSpace {
  func read32(_ offset: UInt16) -> UInt32
  func write32(_ offset: UInt16, _ value: UInt32)
}

extension PCIExpressConfigurationSpace {
  public func read16(_ offset: UInt16) -> UInt16 {
    UInt16(truncatingIfNeeded: read32(offset & 0xFFC) >> (UInt32(offset & 2) * 8))
  }

  /// Writes 16 bits, keeping the dword's other half as read.
  public func write16(_ offset: UInt16, _ value: UInt16) {
    let shift = UInt32(offset & 2) * 8
    let old = read32(offset & 0xFFC) & ~(0xFFFF << shift)
    write32(offset & 0xFFC, old | UInt32(value) << shift)
  }
}

/// One extended capability (PCIe Base 4.0 §7.6.3): a 16-bit ID, a 4-bit version and the
/// offset of the next, in one header dword.
public struct PCIExtendedCapability: Equatable, Sendable {
  public var id: UInt16
  public var version: UInt8
  public var offset: UInt16

  public static let alternativeRoutingID: UInt16 = 0x000E
  public static let singleRootIOV: UInt16 = 0x0010

  public init(id: UInt16, version: UInt8, offset: UInt16) {
    self.id = id
    self.version = version
    self.offset = offset
  }

  /// Every extended capability in list order, starting at 0x100 (§7.6.3). A header of 0
  /// (no extended capabilities) or all ones (no extended space: a conventional PCI function
  /// or a missing one) gives none. Next pointers have their low two bits masked (they are
  /// reserved); one below 0x100 ends the walk, and so does the 960th entry (the most the
  /// 3,840 bytes can hold), so a looped list cannot run forever.
  public static func list<Space: PCIExpressConfigurationSpace>(_ space: Space)
    -> [PCIExtendedCapability]
  {
    var result: [PCIExtendedCapability] = []
    var pointer: UInt16 = 0x100
    while pointer >= 0x100 && pointer <= 0xFFC && result.count < 960 {
      let header = space.read32(pointer)
      guard header != 0, header != 0xFFFF_FFFF else { break }
      result.append(
        PCIExtendedCapability(
          id: UInt16(truncatingIfNeeded: header), version: UInt8((header >> 16) & 0xF),
          offset: pointer))
      pointer = UInt16(header >> 20) & 0xFFC
    }
    return result
  }
}
