import CArch
import HypervisorCore
import Memory
import SVM

/// AMD-V behind the scheduler's backend contract. Each CPU's SVMProcessor (host save area,
/// host VMCB, ASIDs) is in its PhysicalCPU; each VM's SVMGuest in `vm.backendState`.
final class SVMBackend: VirtualizationBackend {
  typealias NestedFormat = NestedPagingFormat
  static var name: StaticString { "AMD-V" }
  static var traceBackend: ExitTraceHeader.Backend { .amdV }

  let console: HypervisorConsole

  init(console: HypervisorConsole) {
    self.console = console
  }

  private func guest(_ vm: VirtualMachine) -> SVMGuest? {
    vm.backendState.map { unsafeDowncast($0, to: SVMGuest.self) }
  }

  func admit(_ vm: VirtualMachine, nestedRoot: UInt64) -> Bool {
    // ASIDs are not the VM's: each vCPU gets one from the CPU it runs on (SVMRunLoop).
    guard let guest = SVMGuest(vm: vm, nestedRoot: nestedRoot) else {
      Log.error("out of memory for the VM's VMCBs and I/O and MSR permission maps")
      return false
    }
    vm.backendState = guest
    return true
  }

  func run(_ vm: VirtualMachine, vcpu: VirtualCPU, on cpu: PhysicalCPU) -> SliceResult {
    SVMRunLoop.run(
      guest(vm)!, vcpu: vcpu, processor: unsafeDowncast(cpu.processor!, to: SVMProcessor.self),
      cpu: cpu, console: console)
  }

  /// A VMCB holds nothing a processor caches between VMRUNs; the vCPU's ASID record makes
  /// the next CPU give it one of its own ASIDs.
  func detach(_ vm: VirtualMachine, vcpu: VirtualCPU, from cpu: PhysicalCPU) {}

  /// TSC_OFFSET (VMCB 050h) is added to the host TSC for the guest's RDTSC (APM Vol 2
  /// §15.30.5); it lives under clean bit 0 with the intercepts (APM Table 15-9), so that
  /// bit is cleared for the processor to reload it.
  func shiftGuestTime(
    _ vm: VirtualMachine, vcpu: VirtualCPU, by cycles: UInt64, on cpu: PhysicalCPU
  ) {
    guard let guest = guest(vm) else { return }
    let vmcb = VMCB(base: IdentityMappedMemory().pointer(to: guest.vmcbs[vcpu.index]))
    vmcb.set(VMCBOffset.tscOffset, vmcb.u64(VMCBOffset.tscOffset) &- cycles)
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~1
  }

  func captureState(_ vm: VirtualMachine, vcpu: VirtualCPU, on cpu: PhysicalCPU)
    -> VCPUArchitecturalState?
  {
    guest(vm)?.captureState(of: vcpu)
  }

  /// The VMCB is plain memory between VMRUNs; apply clears every clean bit (APM Table 15-9)
  /// so the processor reloads all of it at the next VMRUN.
  func applyState(
    _ vm: VirtualMachine, vcpu: VirtualCPU, state: VCPUArchitecturalState, on cpu: PhysicalCPU
  ) -> Bool {
    guard let guest = guest(vm) else { return false }
    guest.applyState(state, to: vcpu)
    return true
  }

  func dump(_ vm: VirtualMachine, vcpu: VirtualCPU) {
    if let guest = guest(vm) { SVMRunLoop.dump(guest, vcpu: vcpu) }
  }

  /// VMRUN refuses a guest EFER without SVME (APM §15.5.1): VMEXIT_INVALID.
  func corruptGuestState(_ vm: VirtualMachine) {
    guard let guest = guest(vm) else { return }
    let vmcb = VMCB(base: IdentityMappedMemory().pointer(to: guest.vmcbs[0]))
    vmcb.set(VMCBOffset.efer, vmcb.u64(VMCBOffset.efer) & ~(1 << 12))
  }

  func release(_ vm: VirtualMachine) {
    guest(vm)?.release()
    vm.backendState = nil
  }
}
