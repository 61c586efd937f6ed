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
/// the IRET). The same step serves an NMI held by an interrupt shadow (STI or MOV SS) while
/// NMIs are open: the processor exits for nothing once the shadow's instruction has run, so
/// the NMI would wait for the slice to end; stepping that one instruction brings the exit
/// (kvm-unit-tests' x2apic/xapic `test_sti_nmi`: 30,000 NMIs sent to a vCPU looping on
/// `sti; testb; nop; cli`, each waited for). (VMX keeps this state itself with
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
  /// The backend set RFLAGS.TF to trap right after the instruction in an interrupt shadow;
  /// the trap's end clears TF again (no IRET reloads RFLAGS here).
  public private(set) var steppingOverShadow = false

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

  /// Whether to single-step the instruction in an interrupt shadow that holds an NMI back:
  /// NMIs open (no handler running), an NMI held, the shadow set, the guest not stepping
  /// itself, no step already under way. A single-step trap follows the shadow's instruction
  /// (after MOV SS, the one after it: SDM 3A §6.8.3), and the shadow is over then.
  public mutating func startStepOverShadow(
    nmiHeld: Bool, interruptShadow: Bool, guestTrapFlag: Bool
  ) -> Bool {
    guard state == .open, nmiHeld, interruptShadow, !guestTrapFlag, !isStepping else {
      return false
    }
    steppingOverShadow = true
    return true
  }

  /// A step of either kind is under way: RFLAGS.TF is the backend's and #DB is intercepted.
  public var isStepping: Bool { steppingOverIRET || steppingOverShadow }

  /// A #DB exit: true if it is the trap of the step (the backend then clears the
  /// intercept, TF too after a shadow step, and does not deliver the #DB).
  public mutating func debugTrapEndsStep() -> Bool {
    defer {
      steppingOverIRET = false
      steppingOverShadow = false
    }
    return isStepping
  }
}
