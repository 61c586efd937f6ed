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
    guard let tag = processor.asids.acquire() else {
      Log.error("no free ASID for the VM")
      return false
    }
    guard let guest = SVMGuest(vm: vm, asid: tag.tag, nestedRoot: nestedRoot) else {
      processor.asids.release(tag.tag)
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
    guests.remove(for: vm)?.release(into: processor)
  }
}
