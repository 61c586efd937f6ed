import HypervisorCore

/// Turns the VMX exit information into HypervisorCore's vendor-neutral `VMExit`
/// (basic exit reasons: SDM 3C Appendix C).
public enum VMXExitDecoder {
  /// The frequent exits inlined into the run loop; the rest out of line, so that the
  /// inlined part stays small (docs/exit-path.md).
  @inline(__always)
  public static func decode(_ info: VMXExitInformation) -> VMExit {
    let length = UInt8(truncatingIfNeeded: info.instructionLength)
    switch info.reason {
    case UInt32(VMXBasicExitReason.cpuid.rawValue):
      return VMExit(reason: .cpuid, instructionLength: length)
    case UInt32(VMXBasicExitReason.ioInstruction.rawValue):
      let access = VMXExitQualification.portAccess(info.qualification)
      return VMExit(reason: .portIO(access), instructionLength: length)
    case UInt32(VMXBasicExitReason.vmcall.rawValue):
      return VMExit(reason: .hypercall, instructionLength: length)
    case UInt32(VMXBasicExitReason.rdmsr.rawValue):
      return VMExit(reason: .msrRead, instructionLength: length)
    case UInt32(VMXBasicExitReason.wrmsr.rawValue):
      return VMExit(reason: .msrWrite, instructionLength: length)
    case UInt32(VMXBasicExitReason.eptViolation.rawValue):
      return eptViolation(info)
    default:
      return decodeOther(info)
    }
  }

  @inline(__always)
  static func eptViolation(_ info: VMXExitInformation) -> VMExit {
    let fault = VMXExitQualification.nestedPageFault(
      info.qualification, guestPhysical: info.guestPhysicalAddress,
      guestLinear: info.guestLinearAddress)
    // IDT-vectoring information (SDM 3C §25.9.3, §28.2.4): the exit interrupted the
    // delivery of this vector, and the access may be the processor's own, not the
    // instruction's. Carried for EPT violations, the exits whose handling it decides.
    let vectoring = info.idtVectoringInfo
    return VMExit(
      reason: .nestedPageFault(fault),
      interruptedEventVector: vectoring & (1 << 31) != 0
        ? UInt8(truncatingIfNeeded: vectoring) : nil)
  }

  @inline(never)
  static func decodeOther(_ info: VMXExitInformation) -> VMExit {
    if info.isEntryFailure {
      return VMExit(reason: .entryFailure(code: UInt64(info.reason)))
    }
    guard let basic = VMXBasicExitReason(rawValue: info.basicReason) else {
      return VMExit(reason: .unknown(vendorCode: UInt64(info.basicReason)))
    }
    let length = UInt8(truncatingIfNeeded: info.instructionLength)
    switch basic {
    case .exceptionOrNMI:
      return VMExit(reason: exceptionOrNMI(info))
    case .externalInterrupt:
      return VMExit(reason: .externalInterrupt)
    case .tripleFault:
      return VMExit(reason: .shutdown)
    case .initSignal:
      return VMExit(reason: .initSignal)
    case .startupIPI:
      let vector = VMXExitQualification.startupIPIVector(info.qualification)
      return VMExit(reason: .startupIPI(vector: vector))
    case .interruptWindow, .nmiWindow:
      return VMExit(reason: .interruptWindow)
    case .cpuid:
      return VMExit(reason: .cpuid, instructionLength: length)
    case .hlt:
      return VMExit(reason: .halt, instructionLength: length)
    case .pause:
      return VMExit(reason: .pause, instructionLength: length)
    case .invd, .wbinvd:
      return VMExit(reason: .invalidateCaches, instructionLength: length)
    case .vmcall:
      return VMExit(reason: .hypercall, instructionLength: length)
    case .controlRegisterAccess:
      let access = VMXExitQualification.controlRegisterAccess(info.qualification)
      return VMExit(reason: .controlRegisterAccess(access), instructionLength: length)
    case .ioInstruction:
      let access = VMXExitQualification.portAccess(info.qualification)
      return VMExit(reason: .portIO(access), instructionLength: length)
    case .rdmsr:
      return VMExit(reason: .msrRead, instructionLength: length)
    case .wrmsr:
      return VMExit(reason: .msrWrite, instructionLength: length)
    case .entryFailureInvalidGuestState, .entryFailureMSRLoading, .entryFailureMachineCheck:
      // These arrive with bit 31 set; decode them as failures even without it.
      return VMExit(reason: .entryFailure(code: UInt64(info.reason)))
    case .eptViolation:
      return eptViolation(info)
    case .preemptionTimerExpired:
      return VMExit(reason: .preemptionTimer)
    case .xsetbv:
      return VMExit(reason: .xsetbv, instructionLength: length)
    case .vmclear, .vmlaunch, .vmptrld, .vmptrst, .vmread, .vmresume, .vmwrite, .vmxoff, .vmxon,
      .invept, .invvpid, .vmfunc, .getsec, .monitor, .mwait, .rdtscp, .invpcid, .xsaves, .xrstors,
      .encls, .pconfig, .umwait, .tpause, .loadiwkey:
      // VMX and SMX are not offered in CPUID (CR4.VMXE and CR4.SMXE stay clear in the
      // guest's view), nor MONITOR/MWAIT, RDTSCP, XSAVES, SGX, PCONFIG, WAITPKG or Key
      // Locker: each is an undefined opcode for the guest (SDM 2B: #UD when CR4.VMXE = 0
      // or the CPUID flag is clear). INVPCID exits only when the policy leaves it off.
      return VMExit(reason: .exception(vector: 6, errorCode: nil))
    case .rdpmc:
      // No performance counters are offered (CPUID leaf 0xA): every counter index is
      // invalid, #GP(0) (SDM 2B RDPMC).
      return VMExit(reason: .exception(vector: 13, errorCode: 0))
    default:
      // EPT misconfiguration among them: stop the VM and dump it.
      return VMExit(reason: .unknown(vendorCode: UInt64(info.basicReason)))
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
