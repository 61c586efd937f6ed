import HypervisorCore
import Synchronization

/// A vCPU's posted requests, taken on the CPU that owns it (VCPURequests.drain applies NMI,
/// interrupts, INIT, start-up and stop to the vCPU's state), and what the kernel does about
/// the rest: a TLB flush is left to the backend before the entry (`tlbFlushPending`), and
/// a vCPU that stopped, waits for a start-up IPI or must reschedule leaves its slice.
enum RequestDrain {
  /// Before an entry. Returns how the slice ends, or nil to enter.
  static func beforeEntry(_ vcpu: VirtualCPU, vm: VirtualMachine) -> SliceResult? {
    let followUp = VCPURequests.drain(vcpu, vm: vm)
    if followUp.contains(.flushTLB) { vcpu.tlbFlushPending = true }
    if followUp.contains(.stop) || vm.stopClaimed.load(ordering: .acquiring) {
      return .preempted  // the scheduler detaches the vCPUs of an ended VM
    }
    if vcpu.state == .waitingForStartup { return .halted }
    if followUp.contains(.reschedule) { return .preempted }
    return nil
  }

  /// For a vCPU that is not running (halted, or waiting for a start-up IPI) that the
  /// scheduler considers waking.
  static func drainWhileAsleep(_ vcpu: VirtualCPU, vm: VirtualMachine) {
    let followUp = VCPURequests.drain(vcpu, vm: vm)
    if followUp.contains(.flushTLB) { vcpu.tlbFlushPending = true }
  }
}
