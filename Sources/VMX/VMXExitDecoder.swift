import HypervisorCore

/// Turns the VMX exit information into HypervisorCore's vendor-neutral `VMExit`
/// (basic exit reasons: SDM 3C Appendix C).
public enum VMXExitDecoder {
  public static func decode(_ info: VMXExitInformation) -> VMExit {
    // IDT-vectoring information (SDM 3C §25.9.3, §28.2.4): the exit interrupted the delivery
    // of this vector.
    let interruptedVector: UInt8? =
      info.idtVectoringInfo & (1 << 31) != 0
      ? UInt8(truncatingIfNeeded: info.idtVectoringInfo) : nil
    if info.isEntryFailure {
      return VMExit(
        interrupted: interruptedVector, reason: .entryFailure(code: UInt64(info.reason)))
    }
    guard let basic = VMXBasicExitReason(rawValue: info.basicReason) else {
      return VMExit(
        interrupted: interruptedVector, reason: .unknown(vendorCode: UInt64(info.basicReason)))
    }
    let length = UInt8(truncatingIfNeeded: info.instructionLength)
    switch basic {
    case .exceptionOrNMI:
      return VMExit(interrupted: interruptedVector, reason: exceptionOrNMI(info))
    case .externalInterrupt:
      return VMExit(interrupted: interruptedVector, reason: .externalInterrupt)
    case .tripleFault:
      return VMExit(interrupted: interruptedVector, reason: .shutdown)
    case .initSignal:
      return VMExit(interrupted: interruptedVector, reason: .initSignal)
    case .startupIPI:
      let vector = VMXExitQualification.startupIPIVector(info.qualification)
      return VMExit(interrupted: interruptedVector, reason: .startupIPI(vector: vector))
    case .interruptWindow:
      return VMExit(interrupted: interruptedVector, reason: .interruptWindow)
    case .cpuid:
      return VMExit(interrupted: interruptedVector, reason: .cpuid, instructionLength: length)
    case .hlt:
      return VMExit(interrupted: interruptedVector, reason: .halt, instructionLength: length)
    case .invd, .wbinvd:
      return VMExit(
        interrupted: interruptedVector, reason: .invalidateCaches, instructionLength: length)
    case .vmcall:
      return VMExit(interrupted: interruptedVector, reason: .hypercall, instructionLength: length)
    case .controlRegisterAccess:
      let access = VMXExitQualification.controlRegisterAccess(info.qualification)
      return VMExit(
        interrupted: interruptedVector, reason: .controlRegisterAccess(access),
        instructionLength: length)
    case .ioInstruction:
      let access = VMXExitQualification.portAccess(info.qualification)
      return VMExit(
        interrupted: interruptedVector, reason: .portIO(access), instructionLength: length)
    case .rdmsr:
      return VMExit(interrupted: interruptedVector, reason: .msrRead, instructionLength: length)
    case .wrmsr:
      return VMExit(interrupted: interruptedVector, reason: .msrWrite, instructionLength: length)
    case .entryFailureInvalidGuestState, .entryFailureMSRLoading, .entryFailureMachineCheck:
      // These arrive with bit 31 set; decode them as failures even without it.
      return VMExit(
        interrupted: interruptedVector, reason: .entryFailure(code: UInt64(info.reason)))
    case .eptViolation:
      let fault = VMXExitQualification.nestedPageFault(
        info.qualification, guestPhysical: info.guestPhysicalAddress,
        guestLinear: info.guestLinearAddress)
      return VMExit(interrupted: interruptedVector, reason: .nestedPageFault(fault))
    case .preemptionTimerExpired:
      return VMExit(interrupted: interruptedVector, reason: .preemptionTimer)
    case .xsetbv:
      return VMExit(interrupted: interruptedVector, reason: .xsetbv, instructionLength: length)
    default:
      // EPT misconfiguration among them: stop the VM and dump it.
      return VMExit(
        interrupted: interruptedVector, reason: .unknown(vendorCode: UInt64(info.basicReason)))
    }
  }

  /// Exit reason 0 (§25.9.2): an NMI (type 2) or an exception with its vector and, when
  /// bit 11 says so, its error code.
  static func exceptionOrNMI(_ info: VMXExitInformation) -> ExitReason {
    let interruption = VMXInterruptionInformation(rawValue: info.interruptionInfo)
    guard interruption.isValid else { return .unknown(vendorCode: 0) }
    if interruption.type == .nmi { return .nmi }
    let errorCode = interruption.hasErrorCode ? info.interruptionErrorCode : nil
    return .exception(vector: interruption.vector, errorCode: errorCode)
  }

  /// The Appendix C name of a basic exit reason, for reports.
  public static func name(ofBasicReason reason: UInt16) -> StaticString {
    VMXDiagnostics.name(ofBasicReason: reason)
  }
}
