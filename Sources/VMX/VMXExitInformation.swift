/// The VM-exit information fields a handler reads after every exit (SDM 3C §25.9), as
/// VMREAD returns them.
public struct VMXExitInformation: Equatable {
  /// The full exit-reason field (§25.9.1): basic reason in bits 15:0, VM-entry failure
  /// in bit 31.
  public var reason: UInt32
  /// `exitQualification`: the reason-specific details (§28.2.1, Tables 28-1 to 28-7).
  public var qualification: UInt64
  /// `exitInstructionLength`.
  public var instructionLength: UInt32
  /// `exitInterruptionInformation` and `exitInterruptionErrorCode` (§25.9.2).
  public var interruptionInfo: UInt32
  public var interruptionErrorCode: UInt32
  /// `guestLinearAddress` and `guestPhysicalAddress`.
  public var guestLinearAddress: UInt64
  public var guestPhysicalAddress: UInt64
  /// `exitInstructionInformation` (§25.9.4).
  public var instructionInfo: UInt32
  /// `idtVectoringInformation` (§25.9.3): bit 31 valid, bits 7:0 the vector whose delivery
  /// the exit interrupted.
  public var idtVectoringInfo: UInt32

  public init(
    reason: UInt32, qualification: UInt64 = 0, instructionLength: UInt32 = 0,
    interruptionInfo: UInt32 = 0, interruptionErrorCode: UInt32 = 0,
    guestLinearAddress: UInt64 = 0, guestPhysicalAddress: UInt64 = 0, instructionInfo: UInt32 = 0,
    idtVectoringInfo: UInt32 = 0
  ) {
    self.reason = reason
    self.qualification = qualification
    self.instructionLength = instructionLength
    self.interruptionInfo = interruptionInfo
    self.interruptionErrorCode = interruptionErrorCode
    self.guestLinearAddress = guestLinearAddress
    self.guestPhysicalAddress = guestPhysicalAddress
    self.instructionInfo = instructionInfo
    self.idtVectoringInfo = idtVectoringInfo
  }

  /// Bits 15:0 of `reason`.
  public var basicReason: UInt16 { UInt16(truncatingIfNeeded: reason) }

  /// Bit 31 of `reason`: VM entry failed and the guest never ran.
  public var isEntryFailure: Bool { reason & (1 << 31) != 0 }
}
