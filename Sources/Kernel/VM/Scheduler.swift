import CArch
import HypervisorCore

/// Runs every VM on this processor, round robin: each runnable vCPU gets a time slice,
/// cut short by the LAPIC timer if the guest never exits. A VM that stops is reported and
/// its resources returned; the others go on.
final class Scheduler<Backend: VirtualizationBackend> {
  /// A time slice when VMs share the processor.
  static var sliceMilliseconds: UInt32 { 5 }

  let backend: Backend
  let console: HypervisorConsole
  private(set) var vms: [VirtualMachine]

  init(backend: Backend, console: HypervisorConsole, vms: [VirtualMachine]) {
    self.backend = backend
    self.console = console
    self.vms = vms
  }

  func runUntilAllStop() {
    while vms.contains(where: { !$0.isStopped }) {
      wakeHaltedVCPUs()
      var ranAny = false
      for vm in vms where !vm.isStopped && vm.state != .paused {
        for vcpu in vm.vcpus where vcpu.state == .runnable && !vm.isStopped {
          ranAny = true
          if vm.firstEntryTime == nil { vm.firstEntryTime = arch_rdtsc() }
          LocalAPIC.armSlice(milliseconds: Self.sliceMilliseconds)
          let result = backend.run(vm, vcpu: vcpu)
          LocalAPIC.disarm()
          if case .stopped(let reason) = result { stop(vm, reason: reason, vcpu: vcpu) }
        }
      }
      if !ranAny {
        // Only halted vCPUs remain: wait for the earliest guest timer, or, with none armed,
        // nothing can ever wake them.
        if let due = earliestGuestDeadline() {
          while arch_rdtsc() < due { arch_pause() }
        } else {
          for vm in vms where !vm.isStopped {
            stop(vm, reason: .haltedWithoutInterruptSource, vcpu: vm.vcpus[0])
          }
        }
      }
    }
  }

  private func wakeHaltedVCPUs() {
    for vm in vms where !vm.isStopped {
      for vcpu in vm.vcpus where vcpu.state == .halted && InterruptDelivery.shouldWake(vcpu) {
        vcpu.state = .runnable
      }
    }
  }

  private func earliestGuestDeadline() -> UInt64? {
    var earliest: UInt64?
    for vm in vms where !vm.isStopped {
      for vcpu in vm.vcpus where vcpu.state == .halted {
        if let due = vcpu.localAPIC?.deadline, due < earliest ?? UInt64.max { earliest = due }
      }
    }
    return earliest
  }

  func stop(_ vm: VirtualMachine, reason: StopReason, vcpu: VirtualCPU) {
    vm.state = .stopped(reason)
    vm.endTime = arch_rdtsc()
    for each in vm.vcpus { each.state = .stopped }
    console.flush(vm.name)
    Log.begin(VMReport.isFault(reason) ? .warning : .info)
    VMReport.vmLabel(vm)
    Console.write(": ")
    VMReport.describe(reason)
    Log.end()
    if VMReport.isFault(reason) {
      Console.write("  vCPU ")
      Console.write(decimal: UInt64(vcpu.index))
      Console.write(" state:\n")
      VMReport.registers(vcpu)
      backend.dump(vm, vcpu: vcpu)
    }
    if let start = vm.firstEntryTime, let end = vm.endTime {
      Console.write("  lifetime: ")
      Console.write(decimal: end &- start)
      Console.write(" cycles from its first entry to its end\n")
    }
    VMReport.statistics(vm.totalStatistics())
    backend.release(vm)
    GuestFrames.release(vm: vm)
  }
}
