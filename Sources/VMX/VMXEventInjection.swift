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
}
