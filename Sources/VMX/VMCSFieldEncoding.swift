/// The structure of a VMCS component encoding (SDM 3C §25.11.2, "VMREAD, VMWRITE, and
/// Encodings of VMCS Fields"; Appendix B): bit 0 access type, bits 9:1 index, bits 11:10
/// type, bit 12 reserved, bits 14:13 width, bits 31:15 reserved.
public struct VMCSFieldEncoding: Equatable {
  /// Bits 14:13.
  public enum Width: UInt8, Equatable {
    case bits16 = 0
    case bits64 = 1
    case bits32 = 2
    /// 64 bits on processors that support Intel 64 architecture.
    case natural = 3
  }

  /// Bits 11:10.
  public enum FieldType: UInt8, Equatable {
    case control = 0
    /// VM-exit information: read-only unless IA32_VMX_MISC bit 29 (Appendix A.6).
    case readOnlyData = 1
    case guestState = 2
    case hostState = 3
  }

  /// Bit 0: the whole field, or the upper 32 bits of a 64-bit field.
  public enum AccessType: UInt8, Equatable {
    case full = 0
    case high = 1
  }

  public var rawValue: UInt32

  public init(rawValue: UInt32) {
    self.rawValue = rawValue
  }

  public var width: Width {
    // Two bits, so every value has a case.
    Width(rawValue: UInt8(truncatingIfNeeded: (rawValue >> 13) & 0x3)) ?? .natural
  }

  public var type: FieldType {
    FieldType(rawValue: UInt8(truncatingIfNeeded: (rawValue >> 10) & 0x3)) ?? .hostState
  }

  public var accessType: AccessType {
    rawValue & 1 == 0 ? .full : .high
  }

  /// Bits 9:1: tells apart the fields of one width and type.
  public var index: UInt16 {
    UInt16(truncatingIfNeeded: (rawValue >> 1) & 0x1FF)
  }

  /// Reserved bits (12 and 31:15) clear, and high access only for a 64-bit field.
  public var isWellFormed: Bool {
    let reserved: UInt32 = 0xFFFF_8000 | 0x1000
    guard rawValue & reserved == 0 else { return false }
    return accessType == .full || width == .bits64
  }

  /// The upper-half encoding of a 64-bit field (bit 0 set), for 32-bit VMREAD/VMWRITE.
  public var high: VMCSFieldEncoding? {
    guard width == .bits64, accessType == .full else { return nil }
    return VMCSFieldEncoding(rawValue: rawValue | 1)
  }
}

extension VMCSField {
  public var encoding: VMCSFieldEncoding {
    VMCSFieldEncoding(rawValue: rawValue)
  }
}
