import HypervisorCore

/// EVENTINJ (APM Vol 2 §15.20, Figure 15-4): vector bits 7:0, type bits 10:8 (0 external
/// interrupt, 2 NMI, 3 exception, 4 software interrupt), EV bit 11 (error code valid),
/// V bit 31, error code bits 63:32. EXITINTINFO, for an event interrupted by the exit,
/// has the same layout.
public enum SVMEventInjection {
  public static let valid: UInt64 = 1 << 31

  public static func encode(_ event: PendingEvent) -> UInt64 {
    switch event {
    case .externalInterrupt(let vector):
      return valid | UInt64(vector)
    case .nmi:
      return valid | 2 << 8 | 2
    case .exception(let vector, let errorCode):
      var value = valid | 3 << 8 | UInt64(vector)
      if let errorCode { value |= 1 << 11 | UInt64(errorCode) << 32 }
      return value
    }
  }

  /// EVENTINJ that re-delivers an event whose delivery the exit interrupted (EXITINTINFO,
  /// APM Vol 2 §15.7.2), or 0 when none was: in real mode (CR0.PE = 0) with EV clear,
  /// since real-mode delivery pushes no error code (APM Vol 2 §8.7, §15.20).
  /// An interrupted external or virtual interrupt is re-injected as type 0 even where the
  /// processor reported it as an exception (QEMU's TCG does, for vectors 32-255, which
  /// EVENTINJ refuses as exceptions: APM Vol 2 §15.20, "exception vectors 0-31").
  public static func reinjection(interrupted: UInt64, protectedMode: Bool) -> UInt64 {
    guard interrupted & valid != 0 else { return 0 }
    var event = protectedMode ? interrupted : interrupted & ~(1 << 11)
    if event & typeMask == exceptionType && event & 0xFF >= 32 {
      event &= ~(typeMask | 1 << 11 | 0xFFFF_FFFF << 32)
    }
    return event
  }

  static let typeMask: UInt64 = 7 << 8
  static let exceptionType: UInt64 = 3 << 8
}

extension SVMEventInjection {
  /// The event an EVENTINJ value holds, if it is valid and of a type PendingEvent has: an
  /// external interrupt (0), an NMI (2) or an exception (3). A software interrupt (type 4)
  /// is nil: its length and return address are the caller's (APM Vol 2 §15.20).
  public static func decode(_ value: UInt64) -> PendingEvent? {
    guard value & valid != 0 else { return nil }
    let vector = UInt8(truncatingIfNeeded: value)
    switch value & typeMask {
    case 0: return .externalInterrupt(vector: vector)
    case 2 << 8: return .nmi
    case exceptionType:
      let errorCode = value & (1 << 11) != 0 ? UInt32(truncatingIfNeeded: value >> 32) : nil
      return .exception(vector: vector, errorCode: errorCode)
    default: return nil
    }
  }
}
