import CArch
import HypervisorCore
import Memory
import VMX

/// Intel VT-x behind the scheduler's backend contract.
final class VMXBackend: VirtualizationBackend {
  typealias NestedFormat = ExtendedPageTableFormat
  static var name: StaticString { "VT-x" }

  let processor: VMXProcessor
  let console: HypervisorConsole
  private var guests = BackendGuests<VMXGuest>()

  init(processor: VMXProcessor, console: HypervisorConsole) {
    self.processor = processor
    self.console = console
  }

  func admit(_ vm: VirtualMachine, nestedRoot: UInt64) -> Bool {
    guard let tag = processor.vpids.acquire() else {
      Log.error("no free VPID for the VM")
      return false
    }
    guard let guest = VMXGuest(vm: vm, vpid: tag.tag, nestedRoot: nestedRoot, processor: processor)
    else {
      processor.vpids.release(tag.tag)
      return false
    }
    guests.add(guest)
    return true
  }

  func run(_ vm: VirtualMachine, vcpu: VirtualCPU) -> SliceResult {
    VMXRunLoop.run(guests.guest(for: vm)!, vcpu: vcpu, processor: processor, console: console)
  }

  func dump(_ vm: VirtualMachine, vcpu: VirtualCPU) {
    if let guest = guests.guest(for: vm) { VMXRunLoop.dump(guest, vcpu: vcpu) }
  }

  /// VM entry requires a busy TSS in TR (SDM 3C §27.3.1.2): type 9 (available) fails with
  /// exit reason 33, invalid guest state.
  func corruptGuestState(_ vm: VirtualMachine) {
    guard let guest = guests.guest(for: vm), arch_vmptrld(guest.vmcss[0]) else { return }
    VMCS.write(.guestTRAccessRights, 0x89)
  }

  func release(_ vm: VirtualMachine) {
    guests.remove(for: vm)?.release(into: processor)
  }
}
