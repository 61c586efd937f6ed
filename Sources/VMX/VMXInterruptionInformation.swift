/// The VM-exit interruption-information and IDT-vectoring information fields (SDM 3C
/// §25.9.2, §25.9.3): bits 7:0 vector, bits 10:8 type, bit 11 error code valid, bit 12
/// NMI unblocking due to IRET (exit interruption information only), bit 31 valid.
public struct VMXInterruptionInformation: Equatable {
  public var rawValue: UInt32

  public init(rawValue: UInt32) {
    self.rawValue = rawValue
  }

  public var isValid: Bool { rawValue & (1 << 31) != 0 }

  public var vector: UInt8 { UInt8(truncatingIfNeeded: rawValue) }

  /// `nil` for the reserved type 1.
  public var type: VMXEventType? {
    VMXEventType(rawValue: UInt8(truncatingIfNeeded: (rawValue >> 8) & 0x7))
  }

  /// The matching error-code field holds the event's error code.
  public var hasErrorCode: Bool { rawValue & (1 << 11) != 0 }

  public var nmiUnblockedByIRET: Bool { rawValue & (1 << 12) != 0 }
}
