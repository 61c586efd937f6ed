import HypervisorCore
import SVM

/// The interrupt shadow around SVM's virtual interrupt (InterruptDelivery.interruptShadow):
/// QEMU's VMRUN ignores the VMCB's shadow, so an offer after an exit inside one waits for a
/// single step over the shadowed instruction; a shadow whose instruction the hypervisor
/// completed (HLT after STI) is cleared. Before `deliverInterrupts` writes the entry's RIP,
/// the VMCB's RIP is still the one the exit came at.
extension SVMRunLoop {
  /// Clears the shadow bit once the instruction it covered was completed by a handler.
  @inline(__always)
  static func endCompletedShadow(_ vmcb: VMCB, vcpu: VirtualCPU, rip: UInt64) {
    let shadow = vmcb.u64(VMCBOffset.interruptShadow)
    guard shadow & 1 != 0,
      InterruptDelivery.interruptShadow(
        vcpu, shadow: true, exitRIP: vmcb.u64(VMCBOffset.rip), rip: rip, offering: false,
        guestTrapFlag: false) == .over
    else { return }
    vmcb.set(VMCBOffset.interruptShadow, shadow & ~1)
  }

  /// True if `vector` must not be offered on this entry: the shadow still covers the
  /// instruction at RIP, which is single-stepped first (TF and the #DB intercept, ended by
  /// `endStepOverIRET`).
  @inline(__always)
  static func holdsOfferInShadow(_ vmcb: VMCB, vcpu: VirtualCPU, rip: UInt64, vector: UInt8)
    -> Bool
  {
    guard vmcb.u64(VMCBOffset.interruptShadow) & 1 != 0,
      InterruptDelivery.interruptShadow(
        vcpu, shadow: true, exitRIP: vmcb.u64(VMCBOffset.rip), rip: rip, offering: true,
        guestTrapFlag: vcpu.registers.rflags & trapFlag != 0) == .holdOffer
    else { return false }
    vcpu.registers.rflags |= trapFlag  // written to the VMCB before the entry
    interceptDebugExceptions(vmcb, true)
    vcpu.flight.note(.held, detail: UInt64(vector))
    return true
  }
}
