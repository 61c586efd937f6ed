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

/// Fault reasons of DMA remapping (§7.1.3, Table 24), the ones Peregrine's set-up can meet.
public enum RemappingFaultReason: Equatable, Sendable {
  case rootNotPresent  // 0x1
  case contextNotPresent  // 0x2
  case contextInvalid  // 0x3
  case addressBeyondWidth  // 0x4
  case writeNotPermitted  // 0x5: the page is mapped without write, or not at all
  case readNotPermitted  // 0x6
  case pagingEntryUnreadable  // 0x7
  case reservedBits  // 0xA, 0xB, 0xC
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
    case .other: "other reason"
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
