/// AMD-Vi interrupt remapping (AMD IOMMU spec #48882 rev 3.x §2.2.5), the plain encodings:
/// unlike VT-d's one table for the platform, each device has its own table, named by its
/// DTE, so a device can only ever raise the entries the node wrote into its own table.

/// A device's interrupt remapping table: 256 four-byte entries (IntTabLen = 8, 2^8), 1 KiB
/// in a zeroed 4 KiB frame (64-byte alignment is what the DTE field can hold, §2.2.2.1).
public enum AMDViInterruptTable {
  public static let entries = 256
  public static let lengthCode: UInt64 = 8
}

/// One 32-bit interrupt remapping table entry with GuestMode = 0 (§2.2.5.1, "IRTE format
/// when GA is off"): RemapEn (0), SupIOPF (1), IntType (4:2) 000 = fixed, RqEoi (5),
/// DM (6) 0 = physical, GuestMode (7), Destination (15:8) the APIC ID, Vector (23:16).
public struct AMDViInterruptEntry: Equatable, Sendable {
  public var raw: UInt32

  public init(raw: UInt32) { self.raw = raw }

  /// RemapEn = 0: a message naming this entry is target-aborted.
  public static let notPresent = AMDViInterruptEntry(raw: 0)

  /// A fixed, edge-triggered `vector` to the local APIC `apicID`, physical destination.
  public static func fixed(vector: UInt8, apicID: UInt8) -> AMDViInterruptEntry {
    AMDViInterruptEntry(raw: 1 | UInt32(apicID) << 8 | UInt32(vector) << 16)
  }

  public var remapped: Bool { raw & 1 != 0 }
  public var interruptType: UInt8 { UInt8(raw >> 2 & 7) }
  public var logicalDestination: Bool { raw & 1 << 6 != 0 }
  public var destination: UInt8 { UInt8(truncatingIfNeeded: raw >> 8) }
  public var vector: UInt8 { UInt8(truncatingIfNeeded: raw >> 16) }
}

extension AMDViDeviceTableEntry {
  static let interruptsValid: UInt64 = 1 << 0  // IV, DTE bit 128
  static let interruptLengthShift: UInt64 = 1  // IntTabLen, DTE bits 132:129
  static let interruptRootMask: UInt64 = 0x000F_FFFF_FFFF_FFC0  // DTE bits 179:134
  static let interruptControlShift: UInt64 = 60  // IntCtl, DTE bits 189:188
  /// IntCtl = 10b: fixed and arbitrated interrupts are remapped through the table
  /// (00b target-aborts them, 01b forwards them unmapped).
  static let interruptControlRemapped: UInt64 = 0b10

  /// The same entry with its interrupts remapped through `table` (quad 2: IV = 1,
  /// IntTabLen = 8, IntTableRootPtr, IntCtl = 10b). InitPass, EIntPass, NMIPass,
  /// Lint0/1Pass stay 0: those message types are target-aborted, as a function has no
  /// business sending them.
  public func remappingInterrupts(table: UInt64) -> AMDViDeviceTableEntry {
    var entry = self
    entry.quads.2 =
      Self.interruptsValid | AMDViInterruptTable.lengthCode << Self.interruptLengthShift
      | (table & Self.interruptRootMask)
      | Self.interruptControlRemapped << Self.interruptControlShift
    return entry
  }

  public var remapsInterrupts: Bool { quads.2 & Self.interruptsValid != 0 }
  public var interruptControl: UInt8 { UInt8(quads.2 >> Self.interruptControlShift & 3) }
  public var interruptTable: UInt64 { quads.2 & Self.interruptRootMask }
  public var interruptTableEntries: Int {
    1 << Int(quads.2 >> Self.interruptLengthShift & 0xF)
  }
}

extension AMDViCommand {
  /// INVALIDATE_INTERRUPT_TABLE (05h, §2.4.5): drop what the IOMMU cached of `device`'s
  /// interrupt remapping table.
  public static func invalidateInterruptTable(_ device: UInt16) -> AMDViCommand {
    AMDViCommand(low: 5 << 60 | UInt64(device), high: 0)
  }
}

/// The MSI a device sends through its table (§2.2.5.1): address 0xFEE00000 (physical, no
/// redirection hint: the IRTE decides), data = the entry's index in bits 10:0. Data bits
/// 10:8 double as the MSI delivery mode the IOMMU checks first (fixed = 000b), which the
/// 256-entry table keeps at zero.
public enum AMDViMSIFormat {
  public static func message(index: Int) -> (address: UInt64, data: UInt32) {
    (0xFEE0_0000, UInt32(index & 0xFF))
  }
}
