import HypervisorCore

/// Decoders for the exit qualifications Peregrine handles (SDM 3C §28.2.1).
public enum VMXExitQualification {
  /// Control-register accesses (Table 28-3): bits 3:0 the CR number, bits 5:4 the access
  /// type (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW), bits 11:8 the general-purpose
  /// register, bits 31:16 the LMSW source data.
  public static func controlRegisterAccess(_ qualification: UInt64) -> ControlRegisterAccess {
    let register = UInt8(truncatingIfNeeded: qualification & 0xF)
    let generalRegister = UInt8(truncatingIfNeeded: (qualification >> 8) & 0xF)
    let kind: ControlRegisterAccess.Kind
    switch (qualification >> 4) & 0x3 {
    case 0: kind = .write
    case 1: kind = .read
    case 2: kind = .clts
    default: kind = .lmsw(sourceData: UInt16(truncatingIfNeeded: qualification >> 16))
    }
    return ControlRegisterAccess(register: register, kind: kind, generalRegister: generalRegister)
  }

  /// I/O instructions (Table 28-5): bits 2:0 the size − 1 (0, 1 or 3), bit 3 the
  /// direction (1 = IN), bit 4 string, bit 5 REP, bits 31:16 the port.
  public static func portAccess(_ qualification: UInt64) -> PortAccess {
    PortAccess(
      port: UInt16(truncatingIfNeeded: qualification >> 16),
      size: UInt8(truncatingIfNeeded: qualification & 0x7) + 1,
      direction: qualification & (1 << 3) != 0 ? .read : .write,
      isString: qualification & (1 << 4) != 0,
      isRepeated: qualification & (1 << 5) != 0)
  }

  /// EPT violations (Table 28-7): bit 0 data read, bit 1 data write, bit 2 instruction
  /// fetch; bits 5:3 the permissions the guest-physical address had (any set: it was
  /// mapped); bit 7 the guest-linear-address field is valid.
  public static func nestedPageFault(
    _ qualification: UInt64, guestPhysical: UInt64, guestLinear: UInt64
  ) -> NestedPageFault {
    let access: NestedPageFault.Access
    if qualification & (1 << 2) != 0 {
      access = .instructionFetch
    } else if qualification & (1 << 1) != 0 {
      access = .write
    } else {
      access = .read
    }
    return NestedPageFault(
      guestPhysical: guestPhysical,
      guestLinear: qualification & (1 << 7) != 0 ? guestLinear : nil,
      access: access,
      wasMapped: qualification & 0x38 != 0)
  }

  /// Start-up IPIs (§28.2.1): bits 7:0 the SIPI vector.
  public static func startupIPIVector(_ qualification: UInt64) -> UInt8 {
    UInt8(truncatingIfNeeded: qualification)
  }
}
