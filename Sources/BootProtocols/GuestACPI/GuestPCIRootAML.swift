/// `Device(\_SB.PCI0)` for the DSDT: the PCI root bridge the OS enumerates bus 0 from
/// (without one, an ACPI OS scans no bus), with _HID PNP0A03, _UID, _SEG and _BBN, _CRS
/// and _PRT (ACPI 6.4 §6.1.5, §6.5.5, §6.5.6, §6.4.3, §6.2.13).
enum GuestPCIRootAML {
  static func make(_ bridge: GuestPCIHostBridge) -> [UInt8] {
    typealias AML = AMLEncoder
    let terms =
      AML.name(Array("_HID".utf8), AML.dword(AML.eisaID(Array("PNP0A03".utf8))))
      + AML.name(Array("_UID".utf8), AML.integer(0))
      + AML.name(Array("_SEG".utf8), AML.integer(0))
      + AML.name(Array("_BBN".utf8), AML.integer(UInt64(bridge.firstBus)))
      + AML.name(Array("_CRS".utf8), AML.buffer(resources(bridge)))
      + AML.name(Array("_PRT".utf8), routingTable(bridge))
    return AML.device(parent: Array("_SB_".utf8), name: Array("PCI0".utf8), terms)
  }

  /// The resource template (§6.4.3): bus numbers, the configuration ports it consumes,
  /// the I/O windows below and above them, the memory window, the end tag.
  static func resources(_ bridge: GuestPCIHostBridge) -> [UInt8] {
    wordAddress(
      type: 2, minimum: UInt16(bridge.firstBus), maximum: UInt16(bridge.lastBus),
      typeFlags: 0)
      + [0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08]  // IO(Decode16, 0xCF8, 0xCF8, 1, 8)
      + wordAddress(type: 1, minimum: 0x0000, maximum: 0x0CF7, typeFlags: 0x03)
      + wordAddress(type: 1, minimum: 0x0D00, maximum: 0xFFFF, typeFlags: 0x03)
      + dwordMemory(minimum: bridge.memoryBase, size: bridge.memorySize)
      + [0x79, 0x00]  // end tag, checksum 0: "treated as if the checksum is valid"
  }

  /// Word Address Space Descriptor (§6.4.3.5.3): a producer (bit 0 clear) with fixed minimum
  /// and maximum (flags 0x0C); type 1 I/O (type flags 3: ISA and non-ISA ranges), 2 buses.
  static func wordAddress(type: UInt8, minimum: UInt16, maximum: UInt16, typeFlags: UInt8)
    -> [UInt8]
  {
    var bytes: [UInt8] = [0x88, 0x0D, 0x00, type, 0x0C, typeFlags]
    for value in [0, minimum, maximum, 0, maximum - minimum + 1] {
      bytes.appendLittleEndian(value)
    }
    return bytes
  }

  /// DWord Address Space Descriptor (§6.4.3.5.2) for memory: producer, fixed, read-write
  /// and non-cacheable (type flags 0x01).
  static func dwordMemory(minimum: UInt32, size: UInt32) -> [UInt8] {
    var bytes: [UInt8] = [0x87, 0x17, 0x00, 0x00, 0x0C, 0x01]
    for value in [0, minimum, minimum + (size - 1), 0, size] { bytes.appendLittleEndian(value) }
    return bytes
  }

  /// _PRT: Package { Package { slot << 16 | 0xFFFF, pin, 0, GSI } ... } for slots 1-31 and
  /// pins INTA-INTD; source 0 means the last field is a GSI (§6.2.13).
  static func routingTable(_ bridge: GuestPCIHostBridge) -> [UInt8] {
    var entries: [[UInt8]] = []
    for slot in 1..<32 {
      for pin in 0..<4 {
        entries.append(
          AMLEncoder.package([
            AMLEncoder.dword(UInt32(slot) << 16 | 0xFFFF), AMLEncoder.integer(UInt64(pin)),
            AMLEncoder.integer(0), AMLEncoder.integer(UInt64(bridge.gsi(slot: slot, pin: pin))),
          ]))
      }
    }
    return AMLEncoder.package(entries)
  }
}
