/// One IA32_MCi_STATUS value, decoded (SDM 3B §15.3.2.2, Figure 15-6). Platform-neutral:
/// the kernel reads the MSR, this says what it means.
public struct MachineCheckStatus: Equatable {
  public var raw: UInt64

  public init(_ raw: UInt64) { self.raw = raw }

  private func bit(_ index: UInt64) -> Bool { raw >> index & 1 == 1 }

  /// Bit 63: the register holds an error.
  public var isValid: Bool { bit(63) }
  /// Bit 62: a further error arrived while this one was still valid.
  public var overflow: Bool { bit(62) }
  /// Bit 61: the processor did not correct the error.
  public var uncorrected: Bool { bit(61) }
  /// Bit 60: reporting of this error was enabled by IA32_MCi_CTL.
  public var enabled: Bool { bit(60) }
  /// Bit 59: IA32_MCi_MISC holds more about the error.
  public var miscValid: Bool { bit(59) }
  /// Bit 58: IA32_MCi_ADDR holds the address of the error.
  public var addressValid: Bool { bit(58) }
  /// Bit 57: processor context corrupt, restarting is not reliable.
  public var contextCorrupt: Bool { bit(57) }
  /// Bits 15:0: the architectural MCA error code (§15.9).
  public var errorCode: UInt16 { UInt16(truncatingIfNeeded: raw) }
  /// Bits 31:16: the model-specific error code.
  public var modelSpecificCode: UInt16 { UInt16(truncatingIfNeeded: raw >> 16) }
  /// Bits 52:38: corrected errors the bank counted (with MCG_CMCI_P, §15.5.1); 0 when the
  /// processor does not count.
  public var correctedErrorCount: UInt16 { UInt16(truncatingIfNeeded: raw >> 38) & 0x7FFF }

  /// A valid error the processor corrected: a precursor, not a failure.
  public var isCorrected: Bool { isValid && !uncorrected }
  /// How many corrected errors this one value stands for: the hardware count when it
  /// has one, else one (and one more that overflow says was lost).
  public var correctedErrors: UInt64 {
    guard isCorrected else { return 0 }
    let counted = UInt64(correctedErrorCount)
    return counted > 0 ? counted : (overflow ? 2 : 1)
  }
}

/// IA32_MCG_CAP (SDM 3B §15.3.1.1, Figure 15-2).
public struct MachineCheckCapabilities: Equatable {
  public var raw: UInt64

  public init(_ raw: UInt64) { self.raw = raw }

  /// Bits 7:0: error-reporting banks.
  public var bankCount: Int { Int(raw & 0xFF) }
  /// Bit 8: IA32_MCG_CTL exists.
  public var hasGlobalControl: Bool { raw >> 8 & 1 == 1 }
  /// Bit 10: corrected machine-check interrupts (CMCI) and the MCi_CTL2 registers.
  public var hasCMCI: Bool { raw >> 10 & 1 == 1 }
}

/// The MSR numbers of the machine-check architecture (SDM 4 Table 2-2).
public enum MachineCheckRegisters {
  public static let capabilities: UInt32 = 0x179
  public static let globalStatus: UInt32 = 0x17A
  public static let globalControl: UInt32 = 0x17B
  /// Banks are at 0x400 + 4i: CTL, STATUS, ADDR, MISC (§15.3.2).
  public static func control(bank: Int) -> UInt32 { 0x400 + 4 * UInt32(bank) }
  public static func status(bank: Int) -> UInt32 { 0x401 + 4 * UInt32(bank) }
  public static func address(bank: Int) -> UInt32 { 0x402 + 4 * UInt32(bank) }
  public static func misc(bank: Int) -> UInt32 { 0x403 + 4 * UInt32(bank) }
  /// Banks this code reads at most: the architecture allows 255 (at most 32 in QEMU).
  public static let maximumBanks = 32
}
