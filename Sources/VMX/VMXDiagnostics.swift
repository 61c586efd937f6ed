/// Names for VMX failures in panic messages and exit statistics.
public enum VMXDiagnostics {
  /// A VM-instruction error number (SDM 3C §31.4, Table 31-1) in words.
  public static func describeInstructionError(_ number: UInt32) -> StaticString {
    VMInstructionError(rawValue: number)?.summary ?? "unknown VM-instruction error"
  }

  /// A basic exit reason (SDM 3C Appendix C) in words; "reserved exit reason" for the
  /// numbers Appendix C leaves unused or does not list.
  public static func name(ofBasicReason reason: UInt16) -> StaticString {
    VMXBasicExitReason(rawValue: reason)?.name ?? "reserved exit reason"
  }

  /// Why VM entry failed after its control and host-state checks passed: an exit reason
  /// with bit 31 set and basic reason 33, 34 or 41 (SDM 3C Appendix C; "VM-Entry Failures
  /// During or After Loading Guest State" in the VM-entry chapter).
  public static func describeEntryFailure(reason: UInt32) -> StaticString {
    switch VMXBasicExitReason(rawValue: UInt16(truncatingIfNeeded: reason)) {
    case .entryFailureInvalidGuestState, .entryFailureMSRLoading, .entryFailureMachineCheck:
      return name(ofBasicReason: UInt16(truncatingIfNeeded: reason))
    default:
      return "VM-entry failure with an unexpected basic exit reason"
    }
  }
}
