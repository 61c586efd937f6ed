/// AMD-Vi MMIO registers (AMD I/O Virtualization Technology (IOMMU) Specification #48882
/// rev 3.x §3.4, "IOMMU MMIO Registers"): a 16 KiB block whose base the IVHD gives.
public enum AMDViRegister {
  /// Device Table Base Address (0000h): bits 51:12 base, bits 8:0 size in 4 KiB pages - 1.
  public static let deviceTableBase = 0x0000
  /// Command Buffer Base Address (0008h): bits 51:12 base, bits 59:56 ComLen.
  public static let commandBufferBase = 0x0008
  /// Event Log Base Address (0010h): bits 51:12 base, bits 59:56 EventLen.
  public static let eventLogBase = 0x0010
  /// IOMMU Control (0018h).
  public static let control = 0x0018
  /// Extended Feature Register (0030h), read-only.
  public static let extendedFeatures = 0x0030
  /// Command Buffer Head/Tail and Event Log Head/Tail Pointers (2000h-2018h): byte offsets
  /// into their rings in bits 18:4 (one 16-byte entry per step).
  public static let commandHead = 0x2000
  public static let commandTail = 0x2008
  public static let eventHead = 0x2010
  public static let eventTail = 0x2018
  /// IOMMU Status (2020h).
  public static let status = 0x2020
  /// The register block's size: the IVHD base is 16 KiB aligned.
  public static let blockSize = 0x4000
}

/// IOMMU Control Register bits (§3.4, MMIO 0018h).
public enum AMDViControl {
  public static let iommuEnable: UInt64 = 1 << 0
  public static let eventLogEnable: UInt64 = 1 << 2
  public static let eventInterruptEnable: UInt64 = 1 << 3
  public static let completionWaitInterruptEnable: UInt64 = 1 << 4
  public static let commandBufferEnable: UInt64 = 1 << 12
}

/// IOMMU Status Register bits (§3.4, MMIO 2020h): the first three are write-1-to-clear.
public enum AMDViStatus {
  public static let eventOverflow: UInt64 = 1 << 0
  public static let eventLogInterrupt: UInt64 = 1 << 1
  public static let completionWaitInterrupt: UInt64 = 1 << 2
  public static let eventLogRunning: UInt64 = 1 << 3
  public static let commandBufferRunning: UInt64 = 1 << 4
}

/// Encodings of the three table/ring base registers (§3.4).
public enum AMDViBase {
  static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

  /// Device Table Base: `pages` 4 KiB pages (1-512) of 32-byte entries, 128 per page.
  public static func deviceTable(_ base: UInt64, pages: Int) -> UInt64 {
    (base & addressMask) | UInt64(pages - 1)
  }

  /// Command Buffer / Event Log base: a ring of 2^`log2Entries` 16-byte entries; the
  /// length field's smallest legal value is 8 (256 entries, one 4 KiB page, §3.4).
  public static func ring(_ base: UInt64, log2Entries: Int) -> UInt64 {
    (base & addressMask) | UInt64(log2Entries) << 56
  }
}

/// Extended Feature Register (§3.4, MMIO 0030h), the fields Peregrine reads.
public struct AMDViExtendedFeatures: Equatable, Sendable {
  public let raw: UInt64
  public init(_ raw: UInt64) { self.raw = raw }

  public var prefetch: Bool { raw & 1 << 0 != 0 }
  public var peripheralPageRequests: Bool { raw & 1 << 1 != 0 }
  public var x2APIC: Bool { raw & 1 << 2 != 0 }
  public var noExecute: Bool { raw & 1 << 3 != 0 }
  public var guestTranslation: Bool { raw & 1 << 4 != 0 }
  /// IASup: INVALIDATE_IOMMU_ALL is implemented.
  public var invalidateAll: Bool { raw & 1 << 6 != 0 }
  /// GASup: guest virtual APIC (interrupt virtualization).
  public var guestAPIC: Bool { raw & 1 << 7 != 0 }
  public var hardwareErrorRegisters: Bool { raw & 1 << 8 != 0 }
  public var performanceCounters: Bool { raw & 1 << 9 != 0 }
  /// HATS (bits 11:10): the deepest host page table, 00b = 4, 01b = 5, 10b = 6 levels.
  public var hostTranslationLevels: Int? {
    switch raw >> 10 & 3 {
    case 0: 4
    case 1: 5
    case 2: 6
    default: nil
    }
  }
}
