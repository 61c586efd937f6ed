/// Register offsets and bits of the Intel 8254x (82540EM, as Bochs 2.7 and QEMU emulate
/// it), from "PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
/// Manual" (317453006), §13. BAR0 is the register window.
public enum E1000Register {
  public static let control = 0x0000  // CTRL §13.4.1
  public static let status = 0x0008  // STATUS §13.4.2
  public static let eepromRead = 0x0014  // EERD §13.4.4
  public static let interruptCause = 0x00C0  // ICR §13.4.17 (read clears)
  public static let interruptMaskSet = 0x00D0  // IMS §13.4.20
  public static let interruptMaskClear = 0x00D8  // IMC §13.4.21
  public static let receiveControl = 0x0100  // RCTL §13.4.22
  public static let transmitControl = 0x0400  // TCTL §13.4.33
  public static let transmitIPG = 0x0410  // TIPG §13.4.34
  public static let receiveBaseLow = 0x2800  // RDBAL §13.4.25
  public static let receiveBaseHigh = 0x2804
  public static let receiveLength = 0x2808  // RDLEN
  public static let receiveHead = 0x2810  // RDH
  public static let receiveTail = 0x2818  // RDT
  public static let transmitBaseLow = 0x3800  // TDBAL §13.4.38
  public static let transmitBaseHigh = 0x3804
  public static let transmitLength = 0x3808  // TDLEN
  public static let transmitHead = 0x3810  // TDH
  public static let transmitTail = 0x3818  // TDT
  public static let multicastTable = 0x5200  // MTA[128] §13.5.1
  public static let receiveAddressLow = 0x5400  // RAL0 §13.5.2
  public static let receiveAddressHigh = 0x5404  // RAH0: AV is bit 31
}

public enum E1000Bits {
  public static let controlReset: UInt32 = 1 << 26  // CTRL.RST
  public static let controlSetLinkUp: UInt32 = 1 << 6  // CTRL.SLU
  public static let controlAutoSpeed: UInt32 = 1 << 5  // CTRL.ASDE
  public static let receiveEnable: UInt32 = 1 << 1  // RCTL.EN
  public static let receiveBroadcastAccept: UInt32 = 1 << 15  // RCTL.BAM
  public static let receiveStripCRC: UInt32 = 1 << 26  // RCTL.SECRC; BSIZE 00 = 2048 bytes
  public static let transmitEnable: UInt32 = 1 << 1  // TCTL.EN
  public static let transmitPadShort: UInt32 = 1 << 3  // TCTL.PSP
  /// TCTL.CT = 0x10 (bits 11:4), TCTL.COLD = 0x40 (bits 21:12): full duplex (§13.4.33).
  public static let transmitCollision: UInt32 = 0x10 << 4 | 0x40 << 12
  /// TIPG for the 82540 on copper: IPGT 10, IPGR1 8, IPGR2 6 (§13.4.34).
  public static let transmitIPGValue: UInt32 = 10 | 8 << 10 | 6 << 20
  public static let addressValid: UInt32 = 1 << 31  // RAH.AV
}

/// Legacy descriptors (§3.2.3, §3.3.3): 16 bytes each; rings of a multiple of 8 of them
/// (RDLEN/TDLEN are multiples of 128 bytes), 16-byte aligned.
public enum E1000Descriptor {
  public static let size = 16
  /// Receive status (byte 12): DD (descriptor done) bit 0, EOP bit 1.
  public static let done: UInt8 = 1 << 0
  public static let endOfPacket: UInt8 = 1 << 1
  /// Transmit command (byte 11): EOP bit 0, IFCS (insert FCS) bit 1, RS (report status)
  /// bit 3. Transmit status (byte 12): DD bit 0.
  public static let commandEndOfPacket: UInt8 = 1 << 0
  public static let commandInsertFCS: UInt8 = 1 << 1
  public static let commandReportStatus: UInt8 = 1 << 3

  /// A transmit descriptor for one whole frame at `address`.
  public static func transmit(address: UInt64, length: UInt16) -> [UInt8] {
    var bytes: [UInt8] = []
    for shift in stride(from: 0, to: 64, by: 8) {
      bytes.append(UInt8(truncatingIfNeeded: address >> UInt64(shift)))
    }
    bytes.append(UInt8(truncatingIfNeeded: length))
    bytes.append(UInt8(truncatingIfNeeded: length >> 8))
    bytes.append(0)  // CSO
    bytes.append(commandEndOfPacket | commandInsertFCS | commandReportStatus)
    bytes += [0, 0, 0, 0]  // STA, CSS, special
    return bytes
  }

  /// What a receive descriptor holds.
  public enum Reception: Equatable {
    /// Not done: the NIC has not written it yet.
    case pending
    /// Done, one whole error-free frame of this many bytes (CRC stripped).
    case frame(length: Int)
    /// Done, but with an error (errors, byte 13) or only part of a frame: given back.
    case skipped
  }

  public static func received(_ descriptor: [UInt8]) -> Reception {
    guard descriptor.count == size, descriptor[12] & done != 0 else { return .pending }
    guard descriptor[12] & endOfPacket != 0, descriptor[13] == 0 else { return .skipped }
    return .frame(length: Int(descriptor[8]) | Int(descriptor[9]) << 8)
  }

  /// The MAC from RAL0/RAH0, if RAH's address-valid bit is set (§13.5.2): RAL holds the
  /// first four bytes, lowest first.
  public static func mac(low: UInt32, high: UInt32) -> [UInt8]? {
    guard high & E1000Bits.addressValid != 0 else { return nil }
    return [
      UInt8(truncatingIfNeeded: low), UInt8(truncatingIfNeeded: low >> 8),
      UInt8(truncatingIfNeeded: low >> 16), UInt8(truncatingIfNeeded: low >> 24),
      UInt8(truncatingIfNeeded: high), UInt8(truncatingIfNeeded: high >> 8),
    ]
  }
}

/// Intel 8254x identities the driver takes (Bochs 2.7 and QEMU emulate the 82540EM).
public enum E1000Identity {
  public static let vendor: UInt16 = 0x8086
  public static let devices: [UInt16] = [0x100E, 0x100F, 0x1004, 0x1015]

  public static func matches(vendor: UInt16, device: UInt16) -> Bool {
    vendor == Self.vendor && devices.contains(device)
  }
}
