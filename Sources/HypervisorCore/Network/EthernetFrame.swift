/// What the switch reads of an Ethernet II frame (IEEE 802.3 §3.1.1): the destination and
/// source addresses, each six bytes kept in the low 48 bits of a UInt64, most significant
/// byte first as on the wire.
public enum EthernetFrame {
  /// Destination, source and EtherType.
  public static let headerLength = 14
  /// The largest frame without its FCS at the standard 1500-byte MTU.
  public static let maximumLength = 1514
  public static let broadcast: UInt64 = 0xFFFF_FFFF_FFFF

  /// The six bytes at `offset` of `bytes`; the caller checked they are there.
  @inline(__always)
  public static func address(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in offset..<(offset + 6) { value = value << 8 | UInt64(bytes[index]) }
    return value
  }

  public static func address(_ six: [UInt8]) -> UInt64? {
    six.count == 6 ? address(six, at: 0) : nil
  }

  public static func destination(_ frame: [UInt8]) -> UInt64 { address(frame, at: 0) }
  public static func source(_ frame: [UInt8]) -> UInt64 { address(frame, at: 6) }

  /// The I/G bit (IEEE 802 §8.2): the first byte's least significant bit marks a group
  /// (multicast or broadcast) address.
  public static func isGroup(_ address: UInt64) -> Bool { (address >> 40) & 1 != 0 }

  /// The six bytes of `address`, most significant first.
  public static func bytes(_ address: UInt64) -> [UInt8] {
    [40, 32, 24, 16, 8, 0].map { UInt8(truncatingIfNeeded: address >> UInt64($0)) }
  }

  /// The frame that says "`mac` is here now" after a VM moved: a broadcast RARP request
  /// (EtherType 0x8035, RFC 903; operation 3, sender and target hardware address `mac`,
  /// protocol addresses 0), the form other hypervisors send after a live migration so that
  /// learning switches move the MAC to the new port. Padded to the 60-byte minimum.
  public static func announcement(from mac: UInt64) -> [UInt8] {
    var frame = bytes(broadcast) + bytes(mac) + [0x80, 0x35]
    frame += [0, 1, 0x08, 0x00, 6, 4, 0, 3]  // Ethernet, IPv4, lengths, reverse request
    frame += bytes(mac) + [0, 0, 0, 0] + bytes(mac) + [0, 0, 0, 0]
    return frame + [UInt8](repeating: 0, count: max(0, 60 - frame.count))
  }
}
