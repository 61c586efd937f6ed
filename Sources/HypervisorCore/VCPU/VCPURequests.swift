import Synchronization

/// Applies a vCPU's posted requests on the CPU that runs it, before each entry (and before
/// deciding whether a halted or waiting vCPU can run). One relaxed load when nothing is
/// pending; otherwise every request is taken at once and applied in a fixed order:
///
/// 1. flush TLB: reported in the result, for the backend (INVEPT / an ASID flush);
/// 2. NMI: the APIC's `pendingNMIs` (as many as were posted, up to two), or a pending NMI
///    event for a vCPU without an APIC;
/// 3. interrupts: the posted-interrupt bitmap moves into the APIC's IRR (`request(_:)`);
/// 4. INIT: wait-for-SIPI, pending events dropped, the APIC reset (SDM 3A §9.4.3,
///    §11.4.7.3); 5. start-up: a vCPU waiting for SIPI gets `startupState` and runs;
/// 6. stop: the vCPU stops for good (reported); reschedule is reported.
///
/// Exceptions the handlers raised stay in `pendingEvent`; the backend injects in the order
/// TLB flush, exceptions, NMI, interrupts (InterruptDelivery).
public enum VCPURequests {
  /// What the caller (the vCPU's CPU) still has to do after a drain. The vCPU's `state`
  /// and `startupState` already reflect INIT, SIPI and stop.
  public struct FollowUp: OptionSet, Equatable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Flush the vCPU's guest TLB before entry.
    public static let flushTLB = FollowUp(rawValue: VCPURequest.flushTLB.rawValue)
    /// The vCPU stopped (its VM is stopping): do not enter it again.
    public static let stop = FollowUp(rawValue: VCPURequest.stop.rawValue)
    /// Run the scheduler before entering again.
    public static let reschedule = FollowUp(rawValue: VCPURequest.reschedule.rawValue)
  }

  /// Applies `vcpu`'s pending requests. Owner CPU only.
  @inline(__always)
  public static func drain(_ vcpu: VirtualCPU, vm: VirtualMachine) -> FollowUp {
    guard vcpu.hasRequests else { return [] }
    return apply(vcpu.takeRequests(), to: vcpu, vm: vm)
  }

  /// Applies only the NMI and interrupt requests, leaving the others for `drain`: for the
  /// delivery path (InterruptDelivery), which runs after this CPU routed its own IPIs, so a
  /// self-IPI is taken in the same entry. Owner CPU only.
  @inline(__always)
  public static func drainInterrupts(_ vcpu: VirtualCPU) {
    let mask = VCPURequest.nmi.rawValue | VCPURequest.interrupt.rawValue
    guard vcpu.requests.load(ordering: .relaxed) & mask != 0 else { return }
    applyInterrupts(vcpu, mask: mask)
  }

  @inline(never)
  static func applyInterrupts(_ vcpu: VirtualCPU, mask: UInt32) {
    let taken = VCPURequest(
      rawValue: vcpu.requests.bitwiseAnd(~mask, ordering: .acquiring).oldValue & mask)
    vcpu.flight.note(.drain, detail: UInt64(taken.rawValue))
    if taken.contains(.nmi) { deliverNMI(to: vcpu) }
    if taken.contains(.interrupt) { deliverPostedInterrupts(to: vcpu) }
  }

  /// The slow path, out of line so that the exit path keeps only the load and the branch.
  @inline(never)
  static func apply(_ taken: VCPURequest, to vcpu: VirtualCPU, vm: VirtualMachine) -> FollowUp {
    vcpu.flight.note(.drain, detail: UInt64(taken.rawValue))
    let followUp = FollowUp(
      rawValue: taken.rawValue
        & (VCPURequest.flushTLB.rawValue | VCPURequest.stop.rawValue
          | VCPURequest.reschedule.rawValue))
    if taken.contains(.nmi) { deliverNMI(to: vcpu) }
    if taken.contains(.interrupt) { deliverPostedInterrupts(to: vcpu) }
    if taken.contains(.initSignal) { vcpu.receiveINIT() }
    if taken.contains(.startup) { vcpu.receiveStartup(vector: vcpu.startupVector) }
    if taken.contains(.stop) { vcpu.state = .stopped }
    return followUp
  }

  /// The NMIs posted since the last drain latch in the APIC (up to two, LocalAPICModel+NMI).
  /// Without an APIC one becomes the pending event (others merge into it); if an exception
  /// holds that slot, they are put back (without a kick: this CPU drains again before the
  /// next entry). A count of 0 is a bit whose count an earlier drain already took.
  static func deliverNMI(to vcpu: VirtualCPU) {
    let count = vcpu.postedNMIs.exchange(0, ordering: .sequentiallyConsistent)
    guard count != 0 else { return }
    if let apic = vcpu.localAPIC {
      apic.latchNMIs(count)
    } else if vcpu.pendingEvent == nil {
      vcpu.pendingEvent = .nmi
    } else {
      vcpu.postedNMIs.wrappingAdd(count, ordering: .relaxed)
      vcpu.requests.bitwiseOr(VCPURequest.nmi.rawValue, ordering: .relaxed)
    }
  }

  /// The posted vectors move into IRR. Without an APIC there is nothing to take them: they
  /// are dropped.
  static func deliverPostedInterrupts(to vcpu: VirtualCPU) {
    for word in 0..<4 {
      var bits = vcpu.postedInterrupts.take(word: word)
      guard let apic = vcpu.localAPIC else { continue }
      while bits != 0 {
        let bit = bits.trailingZeroBitCount
        apic.request(UInt8(truncatingIfNeeded: word * 64 + bit))
        vcpu.flight.note(.irr, detail: UInt64(word * 64 + bit))
        bits &= bits &- 1
      }
    }
  }
}
