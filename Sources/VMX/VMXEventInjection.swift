/// Encodes the VM-entry interruption-information field (SDM 3C §25.8.3): bits 7:0 vector,
/// bits 10:8 type, bit 11 deliver error code, bits 30:12 reserved, bit 31 valid.
///
/// The error code itself goes to the VM-entry exception error code field, and software
/// interrupts and exceptions also need the VM-entry instruction length (§25.8.3).
public enum VMXEventInjection {
  public static let valid: UInt32 = 1 << 31
  public static let deliverErrorCode: UInt32 = 1 << 11

  public static func encode(vector: UInt8, type: VMXEventType, errorCode: UInt32?) -> UInt32 {
    valid | UInt32(type.rawValue) << 8 | UInt32(vector) | (errorCode == nil ? 0 : deliverErrorCode)
  }

  /// The VM-entry interruption information that re-delivers an event whose delivery an exit
  /// interrupted (SDM 3C §28.2.4), from the IDT-vectoring information: bit 12 (undefined
  /// there) cleared, and "deliver error code" cleared in real mode (CR0.PE = 0), where it
  /// fails the entry (SDM 3C §27.2.1.3) and no error code is pushed (SDM 3A §21.1.4).
  public static func reinjection(vectoring: UInt32, protectedMode: Bool) -> UInt32 {
    let kept = vectoring & ~(1 << 12)
    return protectedMode ? kept : kept & ~deliverErrorCode
  }
}
