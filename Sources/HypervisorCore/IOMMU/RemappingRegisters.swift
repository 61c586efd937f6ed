/// The VT-d remapping unit's register page (VT-d spec rev 4.1 §11.4), offsets from the
/// DRHD register base. All registers are read and written at their natural width.
public enum RemappingRegister {
  public static let version = 0x00  // §11.4.1, 32-bit
  public static let capability = 0x08  // §11.4.2, 64-bit
  public static let extendedCapability = 0x10  // §11.4.3, 64-bit
  public static let globalCommand = 0x18  // §11.4.4.1, 32-bit
  public static let globalStatus = 0x1C  // §11.4.4.2, 32-bit
  public static let rootTableAddress = 0x20  // §11.4.5, 64-bit
  public static let contextCommand = 0x28  // §11.4.6.1, 64-bit
  public static let faultStatus = 0x34  // §11.4.7.1, 32-bit
  public static let faultEventControl = 0x38  // §11.4.7.2, 32-bit
  public static let faultEventData = 0x3C  // §11.4.7.3, 32-bit
  public static let faultEventAddress = 0x40  // §11.4.7.4, 32-bit
  public static let faultEventUpperAddress = 0x44  // §11.4.7.5, 32-bit
  public static let invalidationEventControl = 0xA0  // §11.4.9.5, 32-bit
  public static let invalidationEventData = 0xA4  // §11.4.9.6, 32-bit
  public static let invalidationEventAddress = 0xA8  // §11.4.9.7, 32-bit
  public static let invalidationEventUpperAddress = 0xAC  // §11.4.9.8, 32-bit
}

/// Global command / status bits (§11.4.4): a command bit and its status bit share a position.
public enum RemappingGlobalBit {
  public static let translationEnable: UInt32 = 1 << 31  // TE / TES
  public static let setRootTablePointer: UInt32 = 1 << 30  // SRTP / RTPS
  public static let writeBufferFlush: UInt32 = 1 << 27  // WBF / WBFS
  public static let queuedInvalidation: UInt32 = 1 << 26  // QIE / QIES
  public static let interruptRemapping: UInt32 = 1 << 25  // IRE / IRES
  public static let setInterruptTablePointer: UInt32 = 1 << 24  // SIRTP / IRTPS
  public static let compatibilityFormatInterrupts: UInt32 = 1 << 23  // CFI / CFIS

  /// The persistent enable bits of a status value, to be written back with a new command:
  /// GCMD has no read-back, so software keeps the others set (§11.4.4.1).
  public static func persistent(_ status: UInt32) -> UInt32 {
    status
      & (translationEnable | queuedInvalidation | interruptRemapping
        | compatibilityFormatInterrupts)
  }
}

/// Capability register (§11.4.2).
public struct RemappingCapability: Equatable, Sendable {
  public let raw: UInt64
  public init(_ raw: UInt64) { self.raw = raw }

  func bits(_ low: Int, _ count: Int) -> UInt64 {
    (raw >> UInt64(low)) & ((1 << UInt64(count)) - 1)
  }

  /// ND (2:0): domain ids supported, 2^(4 + 2·ND).
  public var domainCount: Int { 1 << (4 + 2 * Int(bits(0, 3))) }
  /// RWBF (4): the write buffer must be flushed after table updates.
  public var requiresWriteBufferFlush: Bool { bits(4, 1) != 0 }
  /// CM (7): caching mode. Not-present entries may be cached, so making one present needs an
  /// invalidation too (§6.1); QEMU's emulation sets it.
  public var cachingMode: Bool { bits(7, 1) != 0 }
  /// SAGAW (12:8): supported adjusted guest address widths; bit 1 = 39-bit (3-level),
  /// bit 2 = 48-bit (4-level), bit 3 = 57-bit (5-level).
  public var supportedAddressWidths: UInt8 { UInt8(bits(8, 5)) }
  /// MGAW (21:16) + 1: the widest DMA address translated.
  public var maximumGuestAddressWidth: Int { Int(bits(16, 6)) + 1 }
  /// FRO (33:24): fault recording registers' offset, in 16-byte units.
  public var faultRecordingOffset: Int { Int(bits(24, 10)) * 16 }
  /// SLLPS (37:34): bit 0 = 2 MiB super-pages, bit 1 = 1 GiB.
  public var supports2MPages: Bool { bits(34, 1) != 0 }
  public var supports1GPages: Bool { bits(35, 1) != 0 }
  /// NFR (47:40) + 1: number of fault recording registers.
  public var faultRecordCount: Int { Int(bits(40, 8)) + 1 }

  /// The paging depth to use: 4 levels when offered, else 3 (the 48-bit or 39-bit AGAW).
  public var pagingLevels: Int? {
    if supportedAddressWidths & 0b100 != 0 { return 4 }
    if supportedAddressWidths & 0b010 != 0 { return 3 }
    return nil
  }
}

/// Extended capability register (§11.4.3).
public struct RemappingExtendedCapability: Equatable, Sendable {
  public let raw: UInt64
  public init(_ raw: UInt64) { self.raw = raw }

  /// C (0): page walks snoop the CPU caches. Without it, table writes need a cache flush.
  public var coherentWalks: Bool { raw & 1 != 0 }
  /// QI (1): queued invalidation.
  public var queuedInvalidation: Bool { raw & (1 << 1) != 0 }
  /// IR (3): interrupt remapping.
  public var interruptRemapping: Bool { raw & (1 << 3) != 0 }
  /// EIM (4): x2APIC interrupt remapping.
  public var extendedInterruptMode: Bool { raw & (1 << 4) != 0 }
  /// PT (6): pass-through translation type in context entries.
  public var passThrough: Bool { raw & (1 << 6) != 0 }
  /// IRO (17:8): IOTLB registers' offset, in 16-byte units.
  public var iotlbOffset: Int { Int((raw >> 8) & 0x3FF) * 16 }
}

/// Register-based invalidation commands (§11.4.6, §11.4.8).
public enum RemappingInvalidation {
  /// CCMD: ICC (63) with CIRG (62:61) = 01, global context-cache invalidation.
  public static let contextGlobal: UInt64 = 1 << 63 | 1 << 61
  /// CCMD domain-selective (CIRG = 10) for `domain` (DID, 15:0).
  public static func contextDomain(_ domain: UInt16) -> UInt64 {
    1 << 63 | 2 << 61 | UInt64(domain)
  }
  /// IOTLB_REG (at ECAP.IRO + 8): IVT (63) with IIRG (61:60) = 01 global, draining reads (49)
  /// and writes (48).
  public static let iotlbGlobal: UInt64 = 1 << 63 | 1 << 60 | 1 << 49 | 1 << 48
  /// Domain-selective IOTLB invalidation (IIRG = 10, DID in 47:32).
  public static func iotlbDomain(_ domain: UInt16) -> UInt64 {
    1 << 63 | 2 << 60 | 1 << 49 | 1 << 48 | UInt64(domain) << 32
  }
  /// The bit that stays set until the hardware has finished either invalidation.
  public static let busy: UInt64 = 1 << 63
}
