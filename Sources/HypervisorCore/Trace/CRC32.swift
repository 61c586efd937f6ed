/// CRC-32 as zlib and PNG compute it (IEEE 802.3 polynomial, reflected, 0xEDB88320), so a
/// host script checks a trace with `zlib.crc32`. Bitwise: traces are read out once per VM.
public enum CRC32 {
  public static func checksum(_ bytes: [UInt8], from start: Int = 0) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    var index = start
    while index < bytes.count {
      crc ^= UInt32(bytes[index])
      for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
      index += 1
    }
    return ~crc
  }
}
