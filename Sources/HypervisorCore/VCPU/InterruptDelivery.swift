/// Delivering a vCPU's local APIC interrupts, written once for both vendors. Before each
/// entry: IPIs the vCPU sent are routed to their targets (IPIRouting); NMIs and interrupts
/// posted to this vCPU move into its APIC (VCPURequests.drainInterrupts); a pending NMI is
/// injected first when the guest is not blocking NMIs (SDM 3A §6.7.1, §6.9: NMI before
/// maskable interrupts); then the timer is polled and a pending vector is injected when the
/// guest can take it (RFLAGS.IF set, no interrupt shadow, no other event being injected).
/// Otherwise the backend asks the processor to exit as soon as it can (SVM V_IRQ with the
/// VINTR intercept, or the IRET intercept for NMIs; VMX interrupt-window and NMI-window
/// exiting).
public enum InterruptDelivery {
  public enum Decision: Equatable {
    case none
    /// `pendingEvent` now holds the interrupt.
    case injected(vector: UInt8)
    /// An interrupt waits for the guest to open a window.
    case needsWindow
  }

  public enum NMIDecision: Equatable {
    case none
    /// `pendingEvent` now holds the NMI; the guest blocks NMIs until its IRET (tracked by the
    /// processor on VMX, by the backend in `VirtualCPU.nmiBlocking` on SVM).
    case injected
    /// An NMI waits: the guest is handling one, or another event goes first.
    case needsWindow
  }

  /// Routes the vCPU's outgoing IPIs and injects a pending NMI if the guest can take one.
  /// `guestCanTakeNMI`: no NMI blocking, no MOV SS or STI shadow, no event being injected.
  /// `nmiBlocked`: the guest handles an NMI (blocked until its IRET) or one is being
  /// injected; then at most one more is held (LocalAPICModel+NMI), else two: one injected
  /// now, the second left for the window after its handler's IRET.
  @inline(__always)
  public static func prepareNMI(
    _ vcpu: VirtualCPU, vm: VirtualMachine, guestCanTakeNMI: Bool, nmiBlocked: Bool
  ) -> NMIDecision {
    guard let apic = vcpu.localAPIC else { return .none }
    IPIRouting.routeOutgoing(from: vcpu, in: vm)
    VCPURequests.drainInterrupts(vcpu)
    guard apic.nmiPending else { return .none }
    apic.limitPendingNMIs(nmiBlocked: nmiBlocked)
    guard guestCanTakeNMI, vcpu.pendingEvent == nil else { return .needsWindow }
    apic.takeNMI()
    vcpu.pendingEvent = .nmi
    return .injected
  }

  @inline(__always)
  public static func prepare(_ vcpu: VirtualCPU, guestCanTakeInterrupt: Bool) -> Decision {
    guard let apic = vcpu.localAPIC else { return .none }
    apic.pollTimer()
    guard let vector = apic.pendingVector else {
      return prepareExternal(vcpu, apic, guestCanTakeInterrupt)
    }
    guard guestCanTakeInterrupt, vcpu.pendingEvent == nil else { return .needsWindow }
    apic.acknowledge(vector)
    vcpu.pendingEvent = .externalInterrupt(vector: vector)
    vcpu.flight.note(.inject, detail: UInt64(vector))
    return .injected(vector: vector)
  }

  /// The 8259 pair's interrupt through LINT0 (ExtINT): its vector is taken at INTA.
  private static func prepareExternal(
    _ vcpu: VirtualCPU, _ apic: LocalAPICModel, _ guestCanTakeInterrupt: Bool
  ) -> Decision {
    guard apic.pendingExternalVector != nil else { return .none }
    guard guestCanTakeInterrupt, vcpu.pendingEvent == nil else { return .needsWindow }
    guard let vector = apic.acknowledgeExternal() else { return .none }
    vcpu.pendingEvent = .externalInterrupt(vector: vector)
    vcpu.flight.note(.inject, detail: UInt64(vector))
    return .injected(vector: vector)
  }

  /// The vector to offer the processor as a virtual interrupt (SVM's V_IRQ), which it
  /// delivers when the guest opens a window: the highest pending one, still unacknowledged.
  @inline(__always)
  public static func vectorToOffer(_ vcpu: VirtualCPU) -> UInt8? {
    guard let apic = vcpu.localAPIC else { return nil }
    apic.pollTimer()
    let offer = apic.vectorToOffer()
    vcpu.flight.noteOffer(offer)
    return offer
  }

  /// The guest took the offered `vector`: it moves to in-service (§11.8.4), as an injected
  /// one does. Only this vCPU's CPU changes its APIC between the offer and the exit, so
  /// `vector` is still the one pending.
  public static func offerTaken(_ vcpu: VirtualCPU, vector: UInt8) {
    vcpu.localAPIC?.offeredVectorTaken(vector)
    vcpu.flight.noteOfferTaken(vector)
    vcpu.statistics.injectedEvents &+= 1
  }

  /// A halted vCPU wakes when its APIC has something to deliver, posted interrupts and NMIs
  /// included (taken into the APIC here). Owner CPU only.
  public static func shouldWake(_ vcpu: VirtualCPU) -> Bool {
    guard let apic = vcpu.localAPIC else { return false }
    VCPURequests.drainInterrupts(vcpu)
    apic.pollTimer()
    guard apic.hasDeliverableInterrupt || apic.nmiPending else { return false }
    let why = apic.pendingVector.map { UInt64($0) } ?? (apic.nmiPending ? 0x100 : 0x200)
    vcpu.flight.note(.woken, detail: why)
    return true
  }
}

extension InterruptDelivery {
  /// What an interrupt shadow (STI, MOV SS) reported by the last exit means for the next
  /// entry's virtual interrupt (SVM).
  public enum ShadowDecision: Equatable {
    /// No shadow: offer as usual.
    case none
    /// The hypervisor completed the instruction the shadow covered (RIP moved since the
    /// exit, e.g. HLT after STI): the shadow is over and its bit must go (SDM 2B, STI: it
    /// covers one instruction), or it would hold the wake-up interrupt past the next one.
    case over
    /// The shadow still covers the instruction at RIP: the offer waits, and the instruction
    /// is single-stepped (NMIBlocking's step over a shadow) so that the offer follows it.
    case holdOffer
  }

  /// QEMU 7.2's VMRUN does not load the VMCB's interrupt shadow (it saves it at #VMEXIT
  /// but never reads it back): a V_IRQ offered after an exit inside a shadow is taken at
  /// once, before the instruction the shadow covers. With `STI; HLT` the interrupt is then
  /// taken before the HLT, and the HLT waits for an interrupt that already came
  /// (`qemu-svm-smp-every-ipi-delivered-once`, 2 runs in 63 beside a CPU hog, found with
  /// the flight recorder: docs/smp.md). `shadow`: the exit reported one; `exitRIP`: the
  /// RIP the exit came at; `rip`: the RIP of the next entry; `offering`: a vector is to be
  /// offered. Owner CPU only.
  public static func interruptShadow(
    _ vcpu: VirtualCPU, shadow: Bool, exitRIP: UInt64, rip: UInt64, offering: Bool,
    guestTrapFlag: Bool
  ) -> ShadowDecision {
    guard shadow else { return .none }
    if rip != exitRIP { return .over }
    guard offering else { return .none }
    if vcpu.nmiBlocking.steppingOverShadow { return .holdOffer }
    return vcpu.nmiBlocking.startStepOverShadow(
      nmiHeld: true, interruptShadow: true, guestTrapFlag: guestTrapFlag) ? .holdOffer : .none
  }
}
