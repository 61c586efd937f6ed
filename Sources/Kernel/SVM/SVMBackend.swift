import CArch
import HypervisorCore
import Memory
import SVM

/// AMD-V behind the scheduler's backend contract.
final class SVMBackend: VirtualizationBackend {
  typealias NestedFormat = NestedPagingFormat
  static var name: StaticString { "AMD-V" }

  let processor: SVMProcessor
  let console: HypervisorConsole
  private var guests = BackendGuests<SVMGuest>()

  init(processor: SVMProcessor, console: HypervisorConsole) {
    self.processor = processor
    self.console = console
  }

  func admit(_ vm: VirtualMachine, nestedRoot: UInt64) -> Bool {
    // ASIDs are not the VM's: each vCPU gets one from the CPU it runs on (SVMRunLoop).
    guard let guest = SVMGuest(vm: vm, nestedRoot: nestedRoot) else {
      Log.error("out of memory for the VM's VMCBs and I/O and MSR permission maps")
      return false
    }
    guests.add(guest)
    return true
  }

  func run(_ vm: VirtualMachine, vcpu: VirtualCPU) -> SliceResult {
    SVMRunLoop.run(guests.guest(for: vm)!, vcpu: vcpu, processor: processor, console: console)
  }

  func dump(_ vm: VirtualMachine, vcpu: VirtualCPU) {
    if let guest = guests.guest(for: vm) { SVMRunLoop.dump(guest, vcpu: vcpu) }
  }

  /// VMRUN refuses a guest EFER without SVME (APM §15.5.1): VMEXIT_INVALID.
  func corruptGuestState(_ vm: VirtualMachine) {
    guard let guest = guests.guest(for: vm) else { return }
    let vmcb = VMCB(base: IdentityMappedMemory().pointer(to: guest.vmcbs[0]))
    vmcb.set(VMCBOffset.efer, vmcb.u64(VMCBOffset.efer) & ~(1 << 12))
  }

  func release(_ vm: VirtualMachine) {
    guests.remove(for: vm)?.release()
  }
}
