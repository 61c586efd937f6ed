/// Assembles system description tables: the 36-byte header (ACPI 6.4 §5.2.6, Table 5.4)
/// in front of a body, with the checksum that makes all bytes sum to zero.
enum GuestACPITable {
  static let oemID: [UInt8] = Array("PRGRN ".utf8)
  static let oemTableID: [UInt8] = Array("PEREGRIN".utf8)
  static let creatorID: [UInt8] = Array("PRGN".utf8)
  static let checksumOffset = 9

  /// Signature, Length, Revision, Checksum, OEMID, OEM Table ID, OEM Revision, Creator ID,
  /// Creator Revision, then `body`.
  static func make(signature: [UInt8], revision: UInt8, body: [UInt8]) -> [UInt8] {
    var table = signature
    table.appendLittleEndian(UInt32(ACPITableHeader.size + body.count))
    table += [revision, 0] + oemID + oemTableID
    table.appendLittleEndian(UInt32(1))
    table += creatorID
    table.appendLittleEndian(UInt32(1))
    table += body
    setChecksum(&table, at: checksumOffset, over: 0..<table.count)
    return table
  }

  /// Sets `bytes[index]` so that the bytes in `range` sum to zero mod 256 (§5.2.6).
  static func setChecksum(_ bytes: inout [UInt8], at index: Int, over range: Range<Int>) {
    bytes[index] = 0
    var sum: UInt8 = 0
    for offset in range { sum &+= bytes[offset] }
    bytes[index] = 0 &- sum
  }
}
