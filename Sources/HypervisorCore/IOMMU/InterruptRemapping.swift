/// VT-d interrupt remapping (VT-d spec rev 4.1 chapter 5, §9.10, §11.4): the pieces that
/// are plain encodings, so they can be tested on the host. The kernel's `RemappingUnit`
/// writes them to the unit and its table.

/// Interrupt-remapping registers (§11.4.9, §11.4.10), offsets from the DRHD register base.
public enum InterruptRemappingRegister {
  public static let queueHead = 0x80  // IQH_REG, §11.4.9.1: bits 18:4 = head index
  public static let queueTail = 0x88  // IQT_REG, §11.4.9.2: bits 18:4 = tail index
  public static let queueAddress = 0x90  // IQA_REG, §11.4.9.3
  public static let completionStatus = 0x9C  // ICS_REG, §11.4.9.4
  public static let tableAddress = 0xB8  // IRTA_REG, §11.4.10.1
}

/// The interrupt-remapping table and its register value (§11.4.10.1): IRTA (63:12) the
/// 4 KiB-aligned table, EIME (11) = 0 (xAPIC destinations), S (3:0): 2^(S+1) entries.
public enum InterruptRemappingTable {
  /// 256 entries of 16 bytes: one 4 KiB frame, more than the node's sources need (its
  /// NICs and the eight passthrough vectors).
  public static let entries = 256
  public static let sizeField: UInt64 = 7  // 2^(7+1) = 256

  public static func registerValue(table: UInt64) -> UInt64 {
    (table & ~0xFFF) | sizeField
  }
}

/// One interrupt-remapping table entry for a remapped interrupt (§9.10, IM = 0), in xAPIC
/// mode (EIME = 0): P (0), FPD (1), DM (2) 0 = physical, RH (3), TM (4) 0 = edge,
/// DLM (7:5) 000 = fixed, V (23:16) vector, DST (63:32) with the 8-bit APIC ID in 47:40;
/// high: SID (79:64), SQ (81:80), SVT (83:82).
public struct InterruptRemappingEntry: Equatable, Sendable {
  public var low: UInt64
  public var high: UInt64

  public init(low: UInt64, high: UInt64) {
    self.low = low
    self.high = high
  }

  public static let notPresent = InterruptRemappingEntry(low: 0, high: 0)

  /// Source-id verification (§9.10, SVT = 01, SQ = 00): the unit accepts the request only
  /// when its requester id equals `requester` in all 16 bits; any other source faults
  /// (reason 0x26).
  public static func fixed(vector: UInt8, apicID: UInt8, requester: RequesterID)
    -> InterruptRemappingEntry
  {
    InterruptRemappingEntry(
      low: 1 | UInt64(vector) << 16 | UInt64(apicID) << 40,
      high: UInt64(requester.sourceID) | 0b01 << 18)
  }

  public var present: Bool { low & 1 != 0 }
  public var vector: UInt8 { UInt8(truncatingIfNeeded: low >> 16) }
  public var apicID: UInt8 { UInt8(truncatingIfNeeded: low >> 40) }
  public var sourceID: UInt16 { UInt16(truncatingIfNeeded: high) }
  public var sourceValidation: UInt8 { UInt8((high >> 18) & 3) }
}

/// MSI / MSI-X message address and data (§5.1.5.2 "Interrupt Requests in Remappable
/// Format"; compatibility format: SDM 3A §11.11.1).
public enum HostMSIFormat {
  /// Remappable: 0xFEE in 31:20, handle[14:0] in 19:5, 1 in bit 4 (interrupt format),
  /// SHV (3) = 1 with subhandle 0 in the data, handle[15] in bit 2. The unit takes
  /// interrupt_index = handle + subhandle = handle.
  public static func remappable(handle: UInt16) -> (address: UInt64, data: UInt32) {
    let address =
      0xFEE0_0000 | UInt64(handle & 0x7FFF) << 5 | 1 << 4 | 1 << 3 | UInt64(handle >> 15) << 2
    return (address, 0)
  }

  /// Compatibility format: a fixed, edge-triggered `vector` to the local APIC `apicID` in
  /// physical destination mode (address 0xFEE0_0000 | ID << 12, data = vector). Blocked by
  /// a unit with IRE on and CFI off (§5.1.4).
  public static func compatibility(vector: UInt8, apicID: UInt8) -> (
    address: UInt64, data: UInt32
  ) {
    (0xFEE0_0000 | UInt64(apicID) << 12, UInt32(vector))
  }

  /// The handle of a remappable message; nil for a compatibility-format one (§5.1.5.2).
  public static func handle(address: UInt64, data: UInt32) -> UInt16? {
    guard address & 1 << 4 != 0 else { return nil }
    var handle = UInt16((address >> 5) & 0x7FFF) | UInt16((address >> 2) & 1) << 15
    if address & 1 << 3 != 0 { handle &+= UInt16(truncatingIfNeeded: data) }
    return handle
  }
}

/// Queued-invalidation descriptors (§6.5.2), 128 bits. Interrupt-entry-cache invalidation
/// exists only as a descriptor (§6.5.2.7), so a unit that remaps interrupts uses the queue
/// for every invalidation: with QIE set the register-based interface must not be used
/// (§6.5.2; QEMU ignores CCMD/IOTLB commands then and leaves their busy bits set).
public struct QueuedInvalidationDescriptor: Equatable, Sendable {
  public var low: UInt64
  public var high: UInt64

  public init(low: UInt64, high: UInt64) {
    self.low = low
    self.high = high
  }

  /// Context-cache invalidation (§6.5.2.1, type 1): G (5:4) 01 global.
  public static let contextGlobal = QueuedInvalidationDescriptor(low: 0x1 | 1 << 4, high: 0)
  /// Domain-selective (G = 10, DID in 31:16).
  public static func contextDomain(_ domain: UInt16) -> QueuedInvalidationDescriptor {
    QueuedInvalidationDescriptor(low: 0x1 | 2 << 4 | UInt64(domain) << 16, high: 0)
  }
  /// IOTLB invalidation (§6.5.2.3, type 2): G (5:4) 01 global, DR (7) and DW (6) drain.
  public static let iotlbGlobal = QueuedInvalidationDescriptor(
    low: 0x2 | 1 << 4 | 1 << 7 | 1 << 6, high: 0)
  public static func iotlbDomain(_ domain: UInt16) -> QueuedInvalidationDescriptor {
    QueuedInvalidationDescriptor(
      low: 0x2 | 2 << 4 | 1 << 7 | 1 << 6 | UInt64(domain) << 16, high: 0)
  }
  /// Interrupt-entry-cache invalidation (§6.5.2.7, type 4): G (4) 0 = global.
  public static let interruptEntriesGlobal = QueuedInvalidationDescriptor(low: 0x4, high: 0)
  /// Index-selective (G = 1): IM (31:27) = 0, one entry, IIDX (47:32).
  public static func interruptEntry(_ index: UInt16) -> QueuedInvalidationDescriptor {
    QueuedInvalidationDescriptor(low: 0x4 | 1 << 4 | UInt64(index) << 32, high: 0)
  }
  /// Invalidation wait (§6.5.2.8, type 5): SW (5) = 1, FN (6) = 1 (later descriptors wait
  /// for this one): the unit writes `status` to the 4-byte-aligned `address` when every
  /// descriptor before it has completed.
  public static func wait(status: UInt32, address: UInt64) -> QueuedInvalidationDescriptor {
    QueuedInvalidationDescriptor(
      low: 0x5 | 1 << 5 | 1 << 6 | UInt64(status) << 32, high: address & ~3)
  }
}

/// IQA_REG (§11.4.9.3): the queue's base (63:12), DW (11) = 0 (128-bit descriptors),
/// QS (2:0) = 0: one 4 KiB page, 256 descriptors.
public enum InvalidationQueue {
  public static let entries = 256
  public static func addressValue(queue: UInt64) -> UInt64 { queue & ~0xFFF }
  /// IQT/IQH hold a descriptor index in 18:4 (128-bit descriptors).
  public static func register(index: Int) -> UInt64 { UInt64(index % entries) << 4 }
  public static func index(register: UInt64) -> Int { Int((register >> 4) & 0x7FFF) % entries }
}

/// Which interrupt-remapping table entries are in use, and by whom: the table's
/// allocation, kept apart from the table so it can be tested.
public struct InterruptRemappingAllocator: Sendable {
  public struct Owner: Equatable, Sendable {
    public var requester: RequesterID
    public var vector: UInt8
    public var apicID: UInt8
  }
  public private(set) var owners: [Owner?]

  public init(entries: Int = InterruptRemappingTable.entries) {
    owners = Array(repeating: nil, count: entries)
  }

  /// The entry for (requester, vector, destination): the one it already has (a function
  /// given to a new VM keeps its vector), else the first free; nil when the table is full.
  public mutating func allocate(requester: RequesterID, vector: UInt8, apicID: UInt8) -> Int? {
    let owner = Owner(requester: requester, vector: vector, apicID: apicID)
    if let held = owners.firstIndex(of: owner) { return held }
    guard let free = owners.firstIndex(of: nil) else { return nil }
    owners[free] = owner
    return free
  }

  /// Frees every entry of `requester`; the indices freed, to be cleared in the table.
  public mutating func release(requester: RequesterID) -> [Int] {
    var freed: [Int] = []
    for index in owners.indices where owners[index]?.requester == requester {
      owners[index] = nil
      freed.append(index)
    }
    return freed
  }

  public var used: Int { owners.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}
