/// DMA Remapping Reporting table (Intel VT-d spec rev 4.1 §8): a 48-byte fixed part, then
/// remapping structures, each starting with a 16-bit type and a 16-bit length (§8.2).
/// Only DRHD (§8.3) and RMRR (§8.4) are interpreted; ATSR, RHSA, ANDD and SATC are skipped.
public struct DMARTable: Equatable, Sendable {
  /// Host Address Width: the platform's DMA physical addressing, in bits (§8.1: field + 1).
  public var hostAddressWidth: Int
  /// Flags bit 0: interrupt remapping is supported (§8.1, INTR_REMAP).
  public var interruptRemapping: Bool
  /// Flags bit 1: firmware asks the OS not to use x2APIC mode (X2APIC_OPT_OUT).
  public var x2APICOptOut: Bool
  /// Flags bit 2: firmware set up DMA protection it wants kept (DMA_CTRL_PLATFORM_OPT_IN).
  public var dmaControlOptIn: Bool
  public var remappingUnits: [DMARRemappingUnit]
  public var reservedRegions: [DMARReservedRegion]

  public init(
    hostAddressWidth: Int, interruptRemapping: Bool, x2APICOptOut: Bool, dmaControlOptIn: Bool,
    remappingUnits: [DMARRemappingUnit], reservedRegions: [DMARReservedRegion]
  ) {
    self.hostAddressWidth = hostAddressWidth
    self.interruptRemapping = interruptRemapping
    self.x2APICOptOut = x2APICOptOut
    self.dmaControlOptIn = dmaControlOptIn
    self.remappingUnits = remappingUnits
    self.reservedRegions = reservedRegions
  }
}

/// One DMA-remapping hardware unit (DRHD, §8.3).
public struct DMARRemappingUnit: Equatable, Sendable {
  /// Physical address of the unit's register page (4 KiB aligned, §8.3).
  public var registerBase: UInt64
  public var segment: UInt16
  /// Flags bit 0, INCLUDE_PCI_ALL: the unit covers every device of the segment not claimed
  /// by another unit; its scopes then list only I/O APICs and HPETs (§8.3).
  public var includesAllDevices: Bool
  /// Size of the register set as 2^n pages (§8.3, revision 2+; 0 = one page).
  public var registerPages: Int
  public var scopes: [DMARDeviceScope]

  public init(
    registerBase: UInt64, segment: UInt16, includesAllDevices: Bool, registerPages: Int,
    scopes: [DMARDeviceScope]
  ) {
    self.registerBase = registerBase
    self.segment = segment
    self.includesAllDevices = includesAllDevices
    self.registerPages = registerPages
    self.scopes = scopes
  }
}

/// A reserved memory region some devices DMA to behind the OS's back (RMRR, §8.4): it must
/// stay identity-mapped for those devices in any domain they are put in.
public struct DMARReservedRegion: Equatable, Sendable {
  public var segment: UInt16
  public var base: UInt64
  /// Inclusive end: the last byte of the region (§8.4, "limit address").
  public var limit: UInt64
  public var scopes: [DMARDeviceScope]

  public init(segment: UInt16, base: UInt64, limit: UInt64, scopes: [DMARDeviceScope]) {
    self.segment = segment
    self.base = base
    self.limit = limit
    self.scopes = scopes
  }
}

/// A device scope entry (§8.3.1): the kind of device, and the bus/device/function it sits at
/// after following its path from the start bus. Paths longer than one hop (devices behind
/// bridges) keep only the last hop's device and function with the start bus; resolving the
/// bus needs the bridges' secondary-bus registers, which the kernel reads.
public struct DMARDeviceScope: Equatable, Sendable {
  public enum Kind: UInt8, Sendable {
    case pciEndpoint = 1
    case pciSubHierarchy = 2
    case ioAPIC = 3
    case hpet = 4
    case acpiNamespaceDevice = 5
  }

  public var kind: Kind
  /// I/O APIC id, HPET number or ACPI device number; 0 for PCI devices.
  public var enumerationID: UInt8
  public var startBus: UInt8
  /// (device, function) pairs, first hop first (§8.3.1.1).
  public var path: [DMARPathHop]

  public init(kind: Kind, enumerationID: UInt8, startBus: UInt8, path: [DMARPathHop]) {
    self.kind = kind
    self.enumerationID = enumerationID
    self.startBus = startBus
    self.path = path
  }
}

public struct DMARPathHop: Equatable, Sendable {
  public var device: UInt8
  public var function: UInt8

  public init(device: UInt8, function: UInt8) {
    self.device = device
    self.function = function
  }
}

/// Why a DMAR table was refused.
public enum DMARError: Error, Equatable, Sendable {
  /// Not "DMAR", or shorter than the 48-byte fixed part, or `length` disagrees with the bytes.
  case notDMAR
  case badChecksum
  /// A structure whose length is below its fixed part or runs past the table (at `offset`).
  case structureTruncated(offset: Int)
  /// A device scope shorter than 6 bytes, with an odd path length, or past its structure.
  case scopeMalformed(offset: Int)
  /// A DRHD register base that is zero or not 4 KiB aligned (§8.3).
  case registerBaseInvalid(offset: Int)
  /// An RMRR whose base is not 4 KiB aligned or whose limit is below its base (§8.4).
  case reservedRegionInvalid(offset: Int)
  /// The table names no DRHD at all.
  case noRemappingUnit

  public var message: StaticString {
    switch self {
    case .notDMAR: "dmar: not a DMAR table or length mismatch"
    case .badChecksum: "dmar: checksum is invalid"
    case .structureTruncated: "dmar: remapping structure truncated"
    case .scopeMalformed: "dmar: device scope malformed"
    case .registerBaseInvalid: "dmar: DRHD register base zero or unaligned"
    case .reservedRegionInvalid: "dmar: RMRR base unaligned or limit below base"
    case .noRemappingUnit: "dmar: no DRHD"
    }
  }
}

extension DMARTable {
  static let signature: [UInt8] = [0x44, 0x4D, 0x41, 0x52]  // "DMAR"
  static let fixedSize = 48
  static let drhdType: UInt16 = 0
  static let rmrrType: UInt16 = 1

  /// Parses a whole DMAR table (header included). Anything malformed refuses the table:
  /// a half-understood IOMMU layout must not be used to protect memory.
  public static func parse(_ raw: UnsafeRawBufferPointer) throws(DMARError) -> DMARTable {
    let bytes = TableBytes(raw)
    guard bytes.count >= fixedSize, bytes.matches(signature, at: 0),
      Int(bytes.u32(at: 4)) == bytes.count
    else { throw .notDMAR }
    guard bytes.checksumValid else { throw .badChecksum }
    let flags = bytes[37]
    var table = DMARTable(
      hostAddressWidth: Int(bytes[36]) + 1, interruptRemapping: flags & 1 != 0,
      x2APICOptOut: flags & 2 != 0, dmaControlOptIn: flags & 4 != 0, remappingUnits: [],
      reservedRegions: [])
    var offset = fixedSize
    while offset < bytes.count {
      guard offset + 4 <= bytes.count else { throw .structureTruncated(offset: offset) }
      let type = bytes.u16(at: offset)
      let length = Int(bytes.u16(at: offset + 2))
      guard length >= 4, offset + length <= bytes.count else {
        throw .structureTruncated(offset: offset)
      }
      switch type {
      case drhdType:
        guard length >= 16 else { throw .structureTruncated(offset: offset) }
        let base = bytes.u64(at: offset + 8)
        guard base != 0, base & 0xFFF == 0 else { throw .registerBaseInvalid(offset: offset) }
        table.remappingUnits.append(
          DMARRemappingUnit(
            registerBase: base, segment: bytes.u16(at: offset + 6),
            includesAllDevices: bytes[offset + 4] & 1 != 0,
            registerPages: Int(bytes[offset + 5] & 0xF),
            scopes: try scopes(bytes, from: offset + 16, to: offset + length)))
      case rmrrType:
        guard length >= 24 else { throw .structureTruncated(offset: offset) }
        let base = bytes.u64(at: offset + 8)
        let limit = bytes.u64(at: offset + 16)
        guard base & 0xFFF == 0, limit >= base else {
          throw .reservedRegionInvalid(offset: offset)
        }
        table.reservedRegions.append(
          DMARReservedRegion(
            segment: bytes.u16(at: offset + 6), base: base, limit: limit,
            scopes: try scopes(bytes, from: offset + 24, to: offset + length)))
      default:
        break  // ATSR, RHSA, ANDD, SATC, SIDP: not needed to remap DMA.
      }
      offset += length
    }
    guard !table.remappingUnits.isEmpty else { throw .noRemappingUnit }
    return table
  }

  /// Device scope entries in `[start, end)` (§8.3.1): type, length, 2 reserved, enumeration
  /// id, start bus, then 2-byte path hops.
  static func scopes(_ bytes: TableBytes, from start: Int, to end: Int) throws(DMARError)
    -> [DMARDeviceScope]
  {
    var result: [DMARDeviceScope] = []
    var offset = start
    while offset < end {
      guard offset + 6 <= end else { throw .scopeMalformed(offset: offset) }
      let length = Int(bytes[offset + 1])
      guard length >= 6, (length - 6) % 2 == 0, offset + length <= end,
        let kind = DMARDeviceScope.Kind(rawValue: bytes[offset])
      else { throw .scopeMalformed(offset: offset) }
      var path: [DMARPathHop] = []
      var hop = offset + 6
      while hop < offset + length {
        path.append(DMARPathHop(device: bytes[hop], function: bytes[hop + 1]))
        hop += 2
      }
      result.append(
        DMARDeviceScope(
          kind: kind, enumerationID: bytes[offset + 4], startBus: bytes[offset + 5], path: path))
      offset += length
    }
    return result
  }
}
