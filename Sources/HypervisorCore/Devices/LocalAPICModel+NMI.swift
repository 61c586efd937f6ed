/// The NMIs a local APIC holds for its processor (SDM 3A §6.7.1, §11.6.1 delivery mode NMI).
///
/// A processor takes an NMI as soon as it arrives unless NMIs are blocked, and while one is
/// being handled (blocked until the handler's IRET) it latches one more and drops the rest.
/// So two NMIs that arrive together while NMIs are open are both taken: the first at once,
/// the second, latched, after the first handler's IRET. A hypervisor sees such NMIs only at
/// its next drain of the vCPU's requests, later than a processor would, and two sent by
/// different CPUs can arrive in one drain; counted as one, the second would be lost
/// (kvm-unit-tests' x2apic/xapic "multiple nmi": vCPU 0 sends itself an NMI while vCPU 1
/// sends it one and then the fixed IPI 0x44, and the 0x44 handler wants both NMIs taken).
/// So the APIC counts up to two: while the guest is not handling an NMI, one to inject now
/// and one to hold behind it; while it is (or an NMI is being injected), only the one the
/// processor would latch (`limitPendingNMIs`, called by the delivery path, which knows the
/// guest's NMI blocking). KVM keeps the same two-deep limit.
extension LocalAPICModel {
  /// One NMI being delivered and one latched behind it.
  public static let maximumPendingNMIs: UInt8 = 2

  /// An NMI waits for the processor.
  public var nmiPending: Bool { pendingNMIs != 0 }

  /// `count` NMIs arrived (posted to the vCPU since its last drain): held up to
  /// `maximumPendingNMIs`; the rest merge, as NMIs beyond the latched one do.
  public func latchNMIs(_ count: UInt32) {
    let room = UInt32(Self.maximumPendingNMIs - pendingNMIs)
    pendingNMIs += UInt8(min(count, room))
  }

  /// The guest is handling an NMI (blocked until its IRET) or one is being injected: the
  /// processor latches only one more (SDM 3A §6.7.1), so the others merge into it.
  public func limitPendingNMIs(nmiBlocked: Bool) {
    if nmiBlocked && pendingNMIs > 1 { pendingNMIs = 1 }
  }

  /// The processor takes one NMI (the backend injects it). False when none waits.
  @discardableResult
  public func takeNMI() -> Bool {
    guard pendingNMIs != 0 else { return false }
    pendingNMIs -= 1
    return true
  }
}
