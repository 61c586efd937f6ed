/// A Generic Address Structure: where a register lives and how to access it (ACPI 6.4 §5.2.3.2).
public struct ACPIGenericAddress: Equatable, Sendable {
  /// Size of the structure in a table.
  static let size = 12

  /// `addressSpace` values (§5.2.3.2, Table 5.1).
  public static let systemMemory: UInt8 = 0
  public static let systemIO: UInt8 = 1
  public static let pciConfiguration: UInt8 = 2

  public var addressSpace: UInt8
  public var bitWidth: UInt8
  public var bitOffset: UInt8
  /// 0 undefined, 1 byte, 2 word, 3 dword, 4 qword.
  public var accessSize: UInt8
  public var address: UInt64

  public init(
    addressSpace: UInt8, bitWidth: UInt8, bitOffset: UInt8, accessSize: UInt8, address: UInt64
  ) {
    self.addressSpace = addressSpace
    self.bitWidth = bitWidth
    self.bitOffset = bitOffset
    self.accessSize = accessSize
    self.address = address
  }

  /// Decodes the 12 bytes at `offset`: space, width, offset, access size, then the address at 4.
  init(decoding bytes: TableBytes, at offset: Int) {
    self.init(
      addressSpace: bytes[offset], bitWidth: bytes[offset + 1], bitOffset: bytes[offset + 2],
      accessSize: bytes[offset + 3], address: bytes.u64(at: offset + 4))
  }

  /// The I/O port this register names, or nil when it is not a non-zero 16-bit port.
  var ioPort: UInt16? {
    guard addressSpace == Self.systemIO, address != 0, address <= UInt64(UInt16.max) else {
      return nil
    }
    return UInt16(address)
  }
}

/// The FADT reset register and the value that resets the machine when written to it
/// (ACPI 6.4 §5.2.9 RESET_REG and RESET_VALUE, §4.8.3.6).
public struct ACPIResetRegister: Equatable, Sendable {
  public var register: ACPIGenericAddress
  public var value: UInt8

  public init(register: ACPIGenericAddress, value: UInt8) {
    self.register = register
    self.value = value
  }
}

/// How to switch a legacy-mode platform into ACPI mode: write `value` (ACPI_ENABLE) to the
/// SMI command port (ACPI 6.4 §5.2.9 SMI_CMD, §4.8.2.1). Needed before PM1 writes take
/// effect when SCI_EN (PM1_CNT bit 0) reads as zero.
public struct ACPIEnableCommand: Equatable, Sendable {
  public var port: UInt16
  public var value: UInt8

  public init(port: UInt16, value: UInt8) {
    self.port = port
    self.value = value
  }
}
