import HypervisorCore
import Synchronization

/// Takes a vCPU's posted requests (VCPURequest) on the CPU that owns it, in a fixed order:
/// TLB flush (left to the backend, `tlbFlushPending`), then the VM's end. Exceptions wait
/// in `pendingEvent` and interrupts in the APIC; the backend injects them in that order.
enum RequestDrain {
  /// Before an entry. Returns how the slice ends, or nil to enter.
  static func beforeEntry(_ vcpu: VirtualCPU, vm: VirtualMachine) -> SliceResult? {
    let requests = vcpu.takeRequests()
    if requests.contains(.flushTLB) { vcpu.tlbFlushPending = true }
    if requests.contains(.stop) || vm.stopClaimed.load(ordering: .acquiring) {
      return .preempted  // the scheduler detaches the vCPU of an ended VM
    }
    return nil
  }

  /// For a halted vCPU the scheduler considers waking.
  static func drainWhileHalted(_ vcpu: VirtualCPU, vm: VirtualMachine) {
    _ = beforeEntry(vcpu, vm: vm)
  }
}
