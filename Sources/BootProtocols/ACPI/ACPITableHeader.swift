/// The 36-byte header every system description table starts with (ACPI 6.4 §5.2.6, Table 5.4).
public struct ACPITableHeader: Equatable, Sendable {
  /// Size of the header; the table body starts here.
  static let size = 36

  /// Four ASCII bytes such as "FACP".
  public var signature: [UInt8]
  /// Length of the whole table, header included.
  public var length: UInt32
  public var revision: UInt8
  /// Six bytes naming the OEM.
  public var oemID: [UInt8]
  /// Whether the table could be read in full and its bytes sum to zero. A table
  /// failing this is recorded but never interpreted.
  public var checksumValid: Bool

  public init(
    signature: [UInt8], length: UInt32, revision: UInt8, oemID: [UInt8], checksumValid: Bool
  ) {
    self.signature = signature
    self.length = length
    self.revision = revision
    self.oemID = oemID
    self.checksumValid = checksumValid
  }

  /// Decodes the first 36 bytes of `bytes`: signature at 0, length at 4, revision at 8,
  /// OEMID at 10 (§5.2.6). The checksum is filled in later, once the whole table is read.
  init(decoding bytes: TableBytes) {
    self.init(
      signature: bytes.array(at: 0, count: 4), length: bytes.u32(at: 4), revision: bytes[8],
      oemID: bytes.array(at: 10, count: 6), checksumValid: false)
  }
}

/// A table found while walking the RSDT/XSDT (or the DSDT the FADT points to).
public struct ACPITableEntry: Equatable, Sendable {
  /// Physical address of the table's first byte.
  public var address: UInt64
  public var header: ACPITableHeader

  public init(address: UInt64, header: ACPITableHeader) {
    self.address = address
    self.header = header
  }
}

/// A table read from memory: its header always, its bytes only when readable in full.
struct LoadedTable {
  var header: ACPITableHeader
  /// The whole table, or nil when the declared length is below the header size or
  /// runs into unreadable memory.
  var bytes: TableBytes?

  /// The bytes of a table that is complete and passes its checksum.
  var validBytes: TableBytes? { header.checksumValid ? bytes : nil }

  /// Reads the header at `address`, then the `length` bytes it declares.
  /// Nil when not even the header is readable.
  static func load<M: ACPIMemory>(at address: UInt64, memory: M) -> LoadedTable? {
    guard let prefix = memory.read(at: address, count: ACPITableHeader.size) else { return nil }
    var header = ACPITableHeader(decoding: prefix)
    var bytes: TableBytes? = nil
    if header.length >= UInt32(ACPITableHeader.size) {
      bytes = memory.read(at: address, count: Int(header.length))
    }
    header.checksumValid = bytes?.checksumValid ?? false
    return LoadedTable(header: header, bytes: bytes)
  }
}
