/// NMI blocking kept by the hypervisor where the processor does not keep it for an injected
/// NMI: SVM without the V_NMI feature (absent on QEMU; APM Vol 2 §15.21.4). Architecturally
/// an NMI blocks further NMIs until the next IRET completes (SDM 3A §6.7.1); a second NMI
/// meanwhile stays pending. The backend intercepts IRET while blocked; the IRET exit comes
/// before the instruction executes, so blocking ends at the first later exit whose RIP is
/// no longer the IRET's (the IRET has executed). Two consequences, both accepted (KVM
/// without vNMI does the same): a held NMI is delivered at the first exit after the IRET,
/// at worst when the time slice ends; and an exit inside an interrupt handler entered at
/// the IRET's own entry would end blocking one IRET early. (VMX keeps this state itself with
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
}
