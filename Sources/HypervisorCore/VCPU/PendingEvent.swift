/// An event to deliver at the next VM entry: one vendor-neutral value that the SVM backend
/// writes to EVENTINJ (APM Vol 2 §15.20) and the VMX backend to the VM-entry
/// interruption-information field (SDM 3C §25.8.3).
public enum PendingEvent: Equatable {
  case exception(vector: UInt8, errorCode: UInt32?)
  case externalInterrupt(vector: UInt8)
  case nmi

  public static let invalidOpcode = PendingEvent.exception(vector: 6, errorCode: nil)
  /// #PF (vector 14); CR2 is set separately (GuestStateAccess.setFaultAddress).
  public static func pageFault(_ errorCode: UInt32) -> PendingEvent {
    .exception(vector: 14, errorCode: errorCode)
  }
  public static func generalProtection(_ errorCode: UInt32 = 0) -> PendingEvent {
    .exception(vector: 13, errorCode: errorCode)
  }

  /// The event as the guest's mode delivers it. In real mode (CR0.PE = 0) an exception
  /// pushes FLAGS, CS and IP only, never an error code (SDM 3A §21.1.4; APM Vol 2 §8.7, real-mode interrupt control transfers);
  /// VT-x also refuses the entry if "deliver error code" is set with unrestricted guest and
  /// CR0.PE = 0 (SDM 3C §27.2.1.3), and SVM's EVENTINJ.EV must then be clear so that
  /// nothing is pushed (APM Vol 2 §15.20). Backends call this only when injecting.
  public func delivered(protectedMode: Bool) -> PendingEvent {
    if !protectedMode, case .exception(let vector, .some) = self {
      return .exception(vector: vector, errorCode: nil)
    }
    return self
  }

  /// RFLAGS.RF (bit 16).
  public static let resumeFlag: UInt64 = 1 << 16

  /// Whether this is a fault-class exception (SDM 3A Table 6-1), whose delivery pushes
  /// RFLAGS with RF set, so that the handler's IRET back to the faulting instruction does
  /// not trap on an instruction breakpoint there again (SDM 3A §6.12.1, §18.3.1.1). An
  /// injected event is delivered by the VM entry, which pushes the guest's RFLAGS as they
  /// are, so the backend sets RF first, as KVM does. #DB is left out: its instruction
  /// breakpoints are faults, its other conditions traps; Peregrine injects none.
  public var isFault: Bool {
    guard case .exception(let vector, _) = self else { return false }
    switch vector {
    case 0, 5, 6, 7, 9, 10, 11, 12, 13, 14, 16, 17, 19, 20, 21: return true
    default: return false  // #DB, #BP and #OF traps, #DF and #MC aborts, reserved
    }
  }

  /// The RFLAGS the guest must enter with for this event's delivery: RF added for a fault.
  public func enteringFlags(_ rflags: UInt64) -> UInt64 {
    isFault ? rflags | Self.resumeFlag : rflags
  }

  /// Whether the architecture pushes an error code for this exception vector
  /// (SDM 3A Table 6-1): #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP.
  public static func exceptionHasErrorCode(_ vector: UInt8) -> Bool {
    switch vector {
    case 8, 10, 11, 12, 13, 14, 17, 21: return true
    default: return false
    }
  }
}
