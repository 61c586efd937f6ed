import CArch
import HypervisorCore
import Memory
import VMX

/// Intel VT-x behind the scheduler's backend contract. Each CPU's VMXProcessor (VMXON
/// region, resolved controls) is in its PhysicalCPU; each VM's VMXGuest in
/// `vm.backendState`. VPIDs belong to VMs, which may run on any CPU, so the backend hands
/// them out for the whole machine.
final class VMXBackend: VirtualizationBackend {
  typealias NestedFormat = ExtendedPageTableFormat
  static var name: StaticString { "VT-x" }
  static var traceBackend: ExitTraceHeader.Backend { .vtX }

  let console: HypervisorConsole
  private var vpids = IdentifierPool(first: 1, limit: 0x1_0000)
  private let vpidLock = TicketLock()

  init(console: HypervisorConsole) {
    self.console = console
  }

  private func guest(_ vm: VirtualMachine) -> VMXGuest? {
    vm.backendState.map { unsafeDowncast($0, to: VMXGuest.self) }
  }

  func admit(_ vm: VirtualMachine, nestedRoot: UInt64) -> Bool {
    let processor = unsafeDowncast(CPUs.current.processor!, to: VMXProcessor.self)
    guard let tag = vpidLock.withLock({ vpids.acquire() }) else {
      Log.error("no free VPID for the VM")
      return false
    }
    guard
      let guest = VMXGuest(
        vm: vm, vpid: tag.tag, nestedRoot: nestedRoot, processor: processor, cpu: CPUs.current)
    else {
      vpidLock.withLock { vpids.release(tag.tag) }
      return false
    }
    vm.backendState = guest
    return true
  }

  func run(_ vm: VirtualMachine, vcpu: VirtualCPU, on cpu: PhysicalCPU) -> SliceResult {
    VMXRunLoop.run(
      guest(vm)!, vcpu: vcpu, processor: unsafeDowncast(cpu.processor!, to: VMXProcessor.self),
      cpu: cpu, console: console)
  }

  func detach(_ vm: VirtualMachine, vcpu: VirtualCPU, from cpu: PhysicalCPU) {
    guest(vm)?.detach(
      vcpu: vcpu.index, from: cpu, processor: unsafeDowncast(cpu.processor!, to: VMXProcessor.self))
  }

  /// The TSC-offset field (SDM 3C §25.6.5, used with "use TSC offsetting") of the vCPU's
  /// VMCS, made current here first: VMCS fields are read and written only through the
  /// current VMCS of this processor (SDM 3C §24.11.1).
  func shiftGuestTime(
    _ vm: VirtualMachine, vcpu: VirtualCPU, by cycles: UInt64, on cpu: PhysicalCPU
  ) {
    guard let guest = guest(vm), guest.load(vcpu: vcpu.index, on: cpu) else { return }
    VMCS.write(.tscOffset, VMCS.read(.tscOffset) &- cycles)
  }

  func captureState(_ vm: VirtualMachine, vcpu: VirtualCPU, on cpu: PhysicalCPU)
    -> VCPUArchitecturalState?
  {
    guest(vm)?.captureState(of: vcpu, on: cpu)
  }

  /// Through this CPU's current VMCS (SDM 3C §24.11.1), with this CPU's VMX fixed bits
  /// (SDM 3D App. A.7, A.8).
  func applyState(
    _ vm: VirtualMachine, vcpu: VirtualCPU, state: VCPUArchitecturalState, on cpu: PhysicalCPU
  ) -> Bool {
    guard let guest = guest(vm) else { return false }
    let processor = unsafeDowncast(cpu.processor!, to: VMXProcessor.self)
    return guest.applyState(state, to: vcpu, on: cpu, capabilities: processor.capabilities)
  }

  func dump(_ vm: VirtualMachine, vcpu: VirtualCPU) {
    if let guest = guest(vm) { VMXRunLoop.dump(guest, vcpu: vcpu, cpu: CPUs.current) }
  }

  /// VM entry requires a busy TSS in TR (SDM 3C §27.3.1.2): type 9 (available) fails with
  /// exit reason 33, invalid guest state.
  func corruptGuestState(_ vm: VirtualMachine) {
    guard let guest = guest(vm) else { return }
    let cpu = CPUs.current
    guard guest.load(vcpu: 0, on: cpu) else { return }
    VMCS.write(.guestTRAccessRights, 0x89)
  }

  func release(_ vm: VirtualMachine) {
    guard let guest = guest(vm) else { return }
    guest.release()
    if guest.vpidEnabled { vpidLock.withLock { vpids.release(guest.vpid) } }
    vm.backendState = nil
  }
}
