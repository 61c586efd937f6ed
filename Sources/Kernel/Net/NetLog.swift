import NetworkProtocols

/// Console formats of the network and PCI lines: fixed-width hex without a prefix,
/// dotted-quad IPv4, colon-separated MACs. No allocation.
enum NetLog {
  static func hex(_ value: UInt64, digits: Int) {
    var shift = (digits - 1) * 4
    while shift >= 0 {
      let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
      Console.write(nibble < 10 ? nibble + 0x30 : nibble + 0x57)
      shift -= 4
    }
  }

  static func ipv4(_ address: IPv4Address) {
    for (index, octet) in address.octets.enumerated() {
      if index > 0 { Console.write(".") }
      Console.write(decimal: UInt64(octet))
    }
  }

  static func mac(_ address: MACAddress) {
    for (index, byte) in address.bytes.enumerated() {
      if index > 0 { Console.write(":") }
      hex(UInt64(byte), digits: 2)
    }
  }
}
