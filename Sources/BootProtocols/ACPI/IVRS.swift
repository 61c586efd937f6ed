/// I/O Virtualization Reporting Structure (AMD I/O Virtualization Technology (IOMMU)
/// Specification, #48882 rev 3.x, §5.2): a 48-byte fixed part (header, IVinfo, 8 reserved
/// bytes), then I/O virtualization definition blocks, each starting with a type byte, a flags
/// byte and a 16-bit length (§5.2.2). IVHD blocks (types 10h, 11h, 40h: one IOMMU and the
/// devices it serves) are interpreted; IVMD blocks (20h-22h) and unknown types are skipped.
public struct IVRSTable: Equatable, Sendable {
  /// IVinfo bits 14:8: the largest physical address a device may reach (§5.2.1).
  public var physicalAddressSize: Int
  /// IVinfo bits 21:15: the largest virtual address (0 on QEMU 7.2).
  public var virtualAddressSize: Int
  /// IVinfo bit 0: IVHD types 11h/40h carry the EFR register image (§5.2.1).
  public var extendedFeaturesSupported: Bool
  public var units: [IVRSHardwareDefinition]

  public init(
    physicalAddressSize: Int, virtualAddressSize: Int, extendedFeaturesSupported: Bool,
    units: [IVRSHardwareDefinition]
  ) {
    self.physicalAddressSize = physicalAddressSize
    self.virtualAddressSize = virtualAddressSize
    self.extendedFeaturesSupported = extendedFeaturesSupported
    self.units = units
  }

  /// One IVHD per IOMMU: firmware describes the same IOMMU once per type it supports
  /// (§5.2.2.1), and software uses the highest type it understands (all three here).
  public var preferredUnits: [IVRSHardwareDefinition] {
    var result: [IVRSHardwareDefinition] = []
    for unit in units {
      if let index = result.firstIndex(where: {
        $0.segment == unit.segment && $0.deviceID == unit.deviceID
      }) {
        if unit.type > result[index].type { result[index] = unit }
      } else {
        result.append(unit)
      }
    }
    return result
  }
}

/// One I/O virtualization hardware definition block (IVHD, §5.2.2.1).
public struct IVRSHardwareDefinition: Equatable, Sendable {
  /// 0x10, 0x11 or 0x40.
  public var type: UInt8
  /// IVHD flags (HtTunEn, PassPW, ResPassPW, Isoc, IotlbSup, Coherent, PrefSup, PPRSup).
  public var flags: UInt8
  /// The IOMMU's own PCI requester id (bus << 8 | devfn).
  public var deviceID: UInt16
  /// Offset of the IOMMU's capability block in its PCI configuration space (§3.1).
  public var capabilityOffset: UInt16
  /// Physical address of the 16 KiB MMIO register block (§3.4).
  public var registerBase: UInt64
  public var segment: UInt16
  /// IOMMU info: bits 4:0 MSI number, bits 12:8 UnitID.
  public var info: UInt16
  /// Type 10h: IOMMU feature reporting; 11h/40h: IOMMU attributes.
  public var attributes: UInt32
  /// Types 11h/40h: the image of the Extended Feature Register (MMIO 0030h); 0 for 10h.
  public var extendedFeatures: UInt64
  public var devices: [IVRSDeviceEntry]

  public init(
    type: UInt8, flags: UInt8, deviceID: UInt16, capabilityOffset: UInt16, registerBase: UInt64,
    segment: UInt16, info: UInt16, attributes: UInt32, extendedFeatures: UInt64,
    devices: [IVRSDeviceEntry]
  ) {
    self.type = type
    self.flags = flags
    self.deviceID = deviceID
    self.capabilityOffset = capabilityOffset
    self.registerBase = registerBase
    self.segment = segment
    self.info = info
    self.attributes = attributes
    self.extendedFeatures = extendedFeatures
    self.devices = devices
  }

  /// Whether requester `id` is served by this IOMMU (an ALL entry, a select, or a range).
  public func covers(_ id: UInt16) -> Bool {
    devices.contains { entry in
      switch entry.kind {
      case .all: true
      case .device, .range, .alias, .acpiDevice: entry.first <= id && id <= entry.last
      case .special: entry.first == id
      }
    }
  }
}

/// One IVHD device entry (§5.2.2.2, Table 95), ranges folded into one entry.
public struct IVRSDeviceEntry: Equatable, Sendable {
  public enum Kind: Equatable, Sendable {
    /// Type 01h: every device of the segment.
    case all
    /// Types 02h (select) and 46h (extended select).
    case device
    /// Types 03h/47h … 04h: start and end of a range.
    case range
    /// Types 42h/43h: the device(s) issue DMA as `source`.
    case alias(source: UInt16)
    /// Type 48h: an I/O APIC (variety 1) or HPET (variety 2) numbered `handle`.
    case special(variety: UInt8, handle: UInt8)
    /// Type F0h: an ACPI-namespace device (its HID/CID/UID are not kept).
    case acpiDevice
  }

  public var kind: Kind
  public var first: UInt16
  public var last: UInt16
  /// The DTE setting byte (INITPass, EIntPass, NMIPass, SysMgt, Lint0Pass, Lint1Pass).
  public var setting: UInt8

  public init(kind: Kind, first: UInt16, last: UInt16, setting: UInt8) {
    self.kind = kind
    self.first = first
    self.last = last
    self.setting = setting
  }
}

/// Why an IVRS table was refused.
public enum IVRSError: Error, Equatable, Sendable {
  /// Not "IVRS", shorter than the 48-byte fixed part, or `length` disagrees with the bytes.
  case notIVRS
  case badChecksum
  /// A block whose length is below its fixed part or runs past the table (at `offset`).
  case blockTruncated(offset: Int)
  /// An IVHD register base that is zero or not 16 KiB aligned (§3.4: bits 51:14).
  case registerBaseInvalid(offset: Int)
  /// A device entry that runs past its IVHD, or of a variable-length type other than F0h.
  case deviceEntryMalformed(offset: Int)
  /// An end-of-range entry with no start before it, a start with no end, or end < start.
  case rangeMalformed(offset: Int)
  /// The table names no IVHD at all.
  case noIOMMU

  public var message: StaticString {
    switch self {
    case .notIVRS: "ivrs: not an IVRS table or length mismatch"
    case .badChecksum: "ivrs: checksum is invalid"
    case .blockTruncated: "ivrs: definition block truncated"
    case .registerBaseInvalid: "ivrs: IVHD register base zero or not 16 KiB aligned"
    case .deviceEntryMalformed: "ivrs: IVHD device entry malformed"
    case .rangeMalformed: "ivrs: IVHD device range without start, end, or reversed"
    case .noIOMMU: "ivrs: no IVHD"
    }
  }
}

extension IVRSTable {
  static let signature: [UInt8] = [0x49, 0x56, 0x52, 0x53]  // "IVRS"
  static let fixedSize = 48

  /// Parses a whole IVRS table (header included). Anything malformed refuses the table: a
  /// half-understood IOMMU layout must not be used to protect memory.
  public static func parse(_ raw: UnsafeRawBufferPointer) throws(IVRSError) -> IVRSTable {
    let bytes = TableBytes(raw)
    guard bytes.count >= fixedSize, bytes.matches(signature, at: 0),
      Int(bytes.u32(at: 4)) == bytes.count
    else { throw .notIVRS }
    guard bytes.checksumValid else { throw .badChecksum }
    let info = bytes.u32(at: 36)
    var table = IVRSTable(
      physicalAddressSize: Int(info >> 8 & 0x7F), virtualAddressSize: Int(info >> 15 & 0x7F),
      extendedFeaturesSupported: info & 1 != 0, units: [])
    var offset = fixedSize
    while offset < bytes.count {
      guard offset + 4 <= bytes.count else { throw .blockTruncated(offset: offset) }
      let type = bytes[offset]
      let length = Int(bytes.u16(at: offset + 2))
      guard length >= 4, offset + length <= bytes.count else {
        throw .blockTruncated(offset: offset)
      }
      if type == 0x10 || type == 0x11 || type == 0x40 {
        // Type 10h's fixed part is 24 bytes; 11h and 40h add the EFR image and 8 more (§5.2.2.1).
        let fixed = type == 0x10 ? 24 : 40
        guard length >= fixed else { throw .blockTruncated(offset: offset) }
        let base = bytes.u64(at: offset + 8)
        guard base != 0, base & 0x3FFF == 0 else { throw .registerBaseInvalid(offset: offset) }
        table.units.append(
          IVRSHardwareDefinition(
            type: type, flags: bytes[offset + 1], deviceID: bytes.u16(at: offset + 4),
            capabilityOffset: bytes.u16(at: offset + 6), registerBase: base,
            segment: bytes.u16(at: offset + 16), info: bytes.u16(at: offset + 18),
            attributes: bytes.u32(at: offset + 20),
            extendedFeatures: type == 0x10 ? 0 : bytes.u64(at: offset + 24),
            devices: try deviceEntries(bytes, from: offset + fixed, to: offset + length)))
      }
      // IVMD (20h-22h) and later block types: not needed to remap DMA.
      offset += length
    }
    guard !table.units.isEmpty else { throw .noIOMMU }
    return table
  }

  /// Device entries in `[start, end)` (§5.2.2.2): types 00h-3Fh are 4 bytes, 40h-7Fh are 8,
  /// F0h is 22 bytes plus its UID; other types from 80h have no length the OS can know.
  static func deviceEntries(_ bytes: TableBytes, from start: Int, to end: Int) throws(IVRSError)
    -> [IVRSDeviceEntry]
  {
    var result: [IVRSDeviceEntry] = []
    // An open range: its start entry's offset, first id, DTE setting and alias source.
    var open: (offset: Int, first: UInt16, setting: UInt8, alias: UInt16?)?
    var offset = start
    while offset < end {
      let type = bytes[offset]
      var length: Int
      switch type {
      case 0x00..<0x40: length = 4
      case 0x40..<0x80: length = 8
      case 0xF0:
        guard offset + 22 <= end else { throw .deviceEntryMalformed(offset: offset) }
        length = 22 + Int(bytes[offset + 21])
      default: throw .deviceEntryMalformed(offset: offset)
      }
      guard offset + length <= end else { throw .deviceEntryMalformed(offset: offset) }
      let id = bytes.u16(at: offset + 1)
      let setting = bytes[offset + 3]
      // Only an end entry may follow a start entry (§5.2.2.2: ranges are two entries).
      if open != nil, type != 0x04 { throw .rangeMalformed(offset: open!.offset) }
      switch type {
      case 0x01:
        result.append(IVRSDeviceEntry(kind: .all, first: 0, last: 0xFFFF, setting: setting))
      case 0x02, 0x46:
        result.append(IVRSDeviceEntry(kind: .device, first: id, last: id, setting: setting))
      case 0x03, 0x47: open = (offset, id, setting, nil)
      case 0x43: open = (offset, id, setting, bytes.u16(at: offset + 5))
      case 0x04:
        guard let range = open, id >= range.first else { throw .rangeMalformed(offset: offset) }
        let kind: IVRSDeviceEntry.Kind =
          range.alias.map { .alias(source: $0) } ?? .range
        result.append(
          IVRSDeviceEntry(kind: kind, first: range.first, last: id, setting: range.setting))
        open = nil
      case 0x42:
        result.append(
          IVRSDeviceEntry(
            kind: .alias(source: bytes.u16(at: offset + 5)), first: id, last: id,
            setting: setting))
      case 0x48:
        let used = bytes.u16(at: offset + 5)
        result.append(
          IVRSDeviceEntry(
            kind: .special(variety: bytes[offset + 7], handle: bytes[offset + 4]), first: used,
            last: used, setting: setting))
      case 0xF0:
        result.append(IVRSDeviceEntry(kind: .acpiDevice, first: id, last: id, setting: setting))
      default:
        break  // Padding (00h) and reserved types: skipped by their known length.
      }
      offset += length
    }
    if let range = open { throw .rangeMalformed(offset: range.offset) }
    return result
  }
}
