/// NMI blocking kept by the hypervisor where the processor does not keep it for an injected
/// NMI: SVM without the V_NMI feature (absent on QEMU; APM Vol 2 §15.21.4). Architecturally
/// an NMI blocks further NMIs until the next IRET completes (SDM 3A §6.7.1); a second NMI
/// meanwhile stays pending. The backend intercepts IRET while blocked; the IRET exit comes
/// before the instruction executes, so blocking ends at the first later exit whose RIP is
/// no longer the IRET's (the IRET has executed). Two consequences, both accepted (KVM
/// without vNMI does the same): a held NMI is delivered at the first exit after the IRET,
/// at worst when the time slice ends; and an exit inside an interrupt handler entered at
/// the IRET's own entry would end blocking one IRET early. The first is avoided where it
/// matters: with an NMI held, the backend single-steps the IRET (RFLAGS.TF and the #DB
/// intercept, as KVM's nmi_singlestep), so the exit comes as soon as it has executed and
/// the held NMI is delivered there, before the interrupted code runs on (kvm-unit-tests'
/// eventinj: otherwise the nested NMI's handler met a lock the interrupted code took after
/// the IRET). (VMX keeps this state itself with
/// "virtual NMIs", SDM 3C §25.6.1, and does not use this.)
public struct NMIBlocking: Equatable {
  public enum State: Equatable {
    case open
    /// An NMI was injected; its handler has not reached IRET.
    case blocked
    /// The guest is about to execute the IRET at `rip`.
    case iretPending(rip: UInt64)
  }

  public private(set) var state = State.open
  /// The backend set RFLAGS.TF to trap right after the pending IRET.
  public private(set) var steppingOverIRET = false

  public init() {}

  public var isBlocked: Bool { state != .open }
  /// IRET must exit: only while an NMI handler runs.
  public var wantsIRETIntercept: Bool { state == .blocked }

  public mutating func nmiInjected() { state = .blocked }

  /// An exit at `rip`; `iret` says whether it was the IRET intercept.
  @inline(__always)
  public mutating func exited(rip: UInt64, iret: Bool) {
    switch state {
    case .open: return
    case .blocked: if iret { state = .iretPending(rip: rip) }
    case .iretPending(let at): if rip != at { state = .open }
    }
  }

  /// Whether to start single-stepping the pending IRET: only with an NMI held, and not if
  /// the guest single-steps itself (TF already set: its own #DB follows the IRET anyway).
  /// A single-step trap comes after an instruction that began with TF set, IRET included,
  /// whatever RFLAGS it loads (SDM 3A §18.3.1.4), before any interrupt (§6.9).
  public mutating func startStepOverIRET(nmiHeld: Bool, guestTrapFlag: Bool) -> Bool {
    guard case .iretPending = state, nmiHeld, !guestTrapFlag, !steppingOverIRET else {
      return false
    }
    steppingOverIRET = true
    return true
  }

  /// A #DB exit: true if it is the trap of the step over the IRET (the backend then clears
  /// TF and the intercept, and does not deliver the #DB).
  public mutating func debugTrapEndsStep() -> Bool {
    defer { steppingOverIRET = false }
    return steppingOverIRET
  }
}
