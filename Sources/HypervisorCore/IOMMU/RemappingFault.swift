/// One primary fault record (VT-d spec rev 4.1 §11.4.14): 128 bits, read as two halves. Low:
/// FI (63:12) the faulting page. High: SID (79:64), FR (103:96) the reason, T (126) 1 for a
/// read, F (127) a valid record, cleared by writing 1.
public struct RemappingFault: Equatable, Sendable {
  public var requester: RequesterID
  public var address: UInt64
  public var reason: RemappingFaultReason
  public var isRead: Bool

  public init(requester: RequesterID, address: UInt64, reason: RemappingFaultReason, isRead: Bool) {
    self.requester = requester
    self.address = address
    self.reason = reason
    self.isRead = isRead
  }

  /// For an interrupt-remapping fault (reasons 0x20-0x26), FI's bits 63:48 hold the
  /// interrupt_index of the blocked request (§11.4.14); its low bits are not an address.
  public var interruptIndex: UInt16 { UInt16(truncatingIfNeeded: address >> 48) }
  public var isInterruptFault: Bool { reason.isInterruptRemapping }

  /// The F bit in the high half.
  public static let validBit: UInt64 = 1 << 63

  /// Decodes a record; nil when its F bit is clear (nothing recorded).
  public init?(low: UInt64, high: UInt64) {
    guard high & Self.validBit != 0 else { return nil }
    self.init(
      requester: RequesterID(sourceID: UInt16(truncatingIfNeeded: high)),
      address: low & ~0xFFF, reason: RemappingFaultReason(code: UInt8((high >> 32) & 0xFF)),
      isRead: high & (1 << 62) != 0)
  }
}

/// Fault reasons of DMA remapping (§7.1.3, Table 24), the ones Peregrine's set-up can meet,
/// and of interrupt remapping (§7.1.3, Table 25: 0x20-0x26).
public enum RemappingFaultReason: Equatable, Sendable {
  case rootNotPresent  // 0x1
  case contextNotPresent  // 0x2
  case contextInvalid  // 0x3
  case addressBeyondWidth  // 0x4
  case writeNotPermitted  // 0x5: the page is mapped without write, or not at all
  case readNotPermitted  // 0x6
  case pagingEntryUnreadable  // 0x7
  case reservedBits  // 0xA, 0xB, 0xC
  case interruptRequestReserved  // 0x20: reserved bits set in the interrupt request
  case interruptIndexBeyondTable  // 0x21: index past IRTA.S's table size
  case interruptEntryNotPresent  // 0x22: the IRTE's P is clear
  case interruptTableUnreadable  // 0x23: the table at IRTA could not be read
  case interruptEntryReserved  // 0x24: reserved bits set in a present IRTE
  case compatibilityInterruptBlocked  // 0x25: compatibility format with CFIS clear (or EIME)
  case interruptSourceInvalid  // 0x26: the requester failed the IRTE's source-id check
  case other(UInt8)

  public init(code: UInt8) {
    switch code {
    case 0x1: self = .rootNotPresent
    case 0x2: self = .contextNotPresent
    case 0x3: self = .contextInvalid
    case 0x4: self = .addressBeyondWidth
    case 0x5: self = .writeNotPermitted
    case 0x6: self = .readNotPermitted
    case 0x7: self = .pagingEntryUnreadable
    case 0xA, 0xB, 0xC: self = .reservedBits
    case 0x20: self = .interruptRequestReserved
    case 0x21: self = .interruptIndexBeyondTable
    case 0x22: self = .interruptEntryNotPresent
    case 0x23: self = .interruptTableUnreadable
    case 0x24: self = .interruptEntryReserved
    case 0x25: self = .compatibilityInterruptBlocked
    case 0x26: self = .interruptSourceInvalid
    default: self = .other(code)
    }
  }

  public var message: StaticString {
    switch self {
    case .rootNotPresent: "root entry not present"
    case .contextNotPresent: "context entry not present"
    case .contextInvalid: "context entry invalid"
    case .addressBeyondWidth: "address beyond the domain's width"
    case .writeNotPermitted: "write to a page not mapped writable"
    case .readNotPermitted: "read of a page not mapped readable"
    case .pagingEntryUnreadable: "second-level table unreadable"
    case .reservedBits: "reserved bits set in a table entry"
    case .interruptRequestReserved: "interrupt request with reserved bits set"
    case .interruptIndexBeyondTable: "interrupt index beyond the remapping table"
    case .interruptEntryNotPresent: "interrupt with no present remapping entry"
    case .interruptTableUnreadable: "interrupt remapping table unreadable"
    case .interruptEntryReserved: "reserved bits set in an interrupt remapping entry"
    case .compatibilityInterruptBlocked: "compatibility-format interrupt blocked"
    case .interruptSourceInvalid: "interrupt from a source its remapping entry does not name"
    case .other: "other reason"
    }
  }

  /// Reasons 0x20-0x26: an interrupt request the unit blocked, not a DMA.
  public var isInterruptRemapping: Bool {
    switch self {
    case .interruptRequestReserved, .interruptIndexBeyondTable, .interruptEntryNotPresent,
      .interruptTableUnreadable, .interruptEntryReserved, .compatibilityInterruptBlocked,
      .interruptSourceInvalid:
      true
    default: false
    }
  }
}

/// Fault status register bits (§11.4.7.1).
public enum RemappingFaultStatus {
  /// PFO (0): a fault was lost because every record was full. Write 1 to clear.
  public static let overflow: UInt32 = 1 << 0
  /// PPF (1): some record holds a fault (read-only, follows the records' F bits).
  public static let pending: UInt32 = 1 << 1
  /// FRI (15:8): the record the first pending fault is in.
  public static func firstRecord(_ status: UInt32) -> Int { Int((status >> 8) & 0xFF) }
}
