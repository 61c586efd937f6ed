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
    reportHostCR0Repairs()
  }

  /// How often the world switch had to put the host's CR0 back after #VMEXIT (QEMU TCG with
  /// a guest EFER.LME = 1, CR0.PG = 0, CR4.PAE = 0: docs/hardening.md). Never on hardware.
  private var reportedCR0Repairs: UInt64 = 0

  private func reportHostCR0Repairs() {
    let repairs = svm_host_cr0_repairs
    guard repairs != reportedCR0Repairs else { return }
    reportedCR0Repairs = repairs
    Log.begin(.info)
    Console.write("svm: host CR0 restored after ")
    Console.write(decimal: repairs)
    Console.write(" exits so far: the emulator's #VMEXIT had left a guest's CR0 in place")
    Log.end()
  }
}
