/// The RSDT or XSDT: a header followed by 32-bit (RSDT, ACPI 6.4 §5.2.7) or 64-bit
/// (XSDT, §5.2.8) physical addresses of the other tables.
struct RootTable {
  var address: UInt64
  var signature: [UInt8]
  /// 4 for the RSDT, 8 for the XSDT.
  var entrySize: Int

  /// RSDP layout (§5.2.5.3, Table 5.3): the ACPI 1.0 part is 20 bytes, covered by `checksum`
  /// at 8; revision 2 adds Length at 20 and an extended checksum over all of it.
  static let rsdpV1Size = 20
  static let rsdpV2Size = 36
  static let rsdtAddressOffset = 16
  static let rsdpLengthOffset = 20

  /// Validates the RSDP copy and picks the root table it names.
  static func locate<M: ACPIMemory>(rsdp: RSDP, memory: M) throws(ACPIError) -> RootTable {
    switch rsdp {
    case .v1(let address, let rsdtAddress):
      guard let bytes = memory.read(at: address, count: rsdpV1Size) else { throw .rsdpUnreadable }
      guard bytes.checksumValid else { throw .rsdpChecksum }
      return RootTable(address: UInt64(rsdtAddress), signature: ACPISignature.rsdt, entrySize: 4)
    case .v2(let address, let xsdtAddress):
      guard let prefix = memory.read(at: address, count: rsdpV2Size) else { throw .rsdpUnreadable }
      let length = Int(prefix.u32(at: rsdpLengthOffset))
      guard length >= rsdpV2Size else { throw .rsdpChecksum }
      guard let bytes = memory.read(at: address, count: length) else { throw .rsdpUnreadable }
      let legacy = TableBytes(UnsafeRawBufferPointer(rebasing: bytes.bytes[0..<rsdpV1Size]))
      guard legacy.checksumValid, bytes.checksumValid else { throw .rsdpChecksum }
      // §5.2.5.3: an ACPI 2.0+ OS uses the XSDT; fall back on the RSDT only if it is absent.
      if xsdtAddress == 0 {
        let rsdtAddress = UInt64(bytes.u32(at: rsdtAddressOffset))
        return RootTable(address: rsdtAddress, signature: ACPISignature.rsdt, entrySize: 4)
      }
      return RootTable(address: xsdtAddress, signature: ACPISignature.xsdt, entrySize: 8)
    }
  }

  /// Reads the whole root table; unlike other tables, every failure here is fatal.
  func load<M: ACPIMemory>(memory: M) throws(ACPIError) -> LoadedTable {
    guard address != 0, let table = LoadedTable.load(at: address, memory: memory),
      table.header.signature == signature
    else { throw .rootTableUnreadable }
    guard table.bytes != nil else { throw .tableTruncated(signature: signature) }
    guard table.header.checksumValid else { throw .rootTableChecksum(signature: signature) }
    return table
  }

  /// The table addresses after the header; a trailing partial entry is ignored.
  func entries(of table: LoadedTable) -> [UInt64] {
    guard let bytes = table.bytes else { return [] }
    var result: [UInt64] = []
    var offset = ACPITableHeader.size
    while offset + entrySize <= bytes.count {
      let address = entrySize == 8 ? bytes.u64(at: offset) : UInt64(bytes.u32(at: offset))
      if address != 0 { result.append(address) }
      offset += entrySize
    }
    return result
  }
}
