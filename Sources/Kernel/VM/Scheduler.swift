import CArch
import HypervisorCore
import Synchronization

/// Runs the VMs' vCPUs on every CPU. One object serves all CPUs; each CPU runs `run(on:)`
/// over its own run queue, so no CPU waits for another to schedule. vCPUs arrive in a run
/// queue through the CPU's inbox (`place`). Per CPU: round robin over its runnable vCPUs,
/// a time slice only when something else waits for the core (a core with one vCPU runs it
/// without host ticks), and HLT when every vCPU is halted. A VM that stops is reported by
/// the CPU that saw it stop; the CPU that detaches its last vCPU releases it; the CPU that
/// releases the last VM prints the summary and powers off.
final class Scheduler<Backend: VirtualizationBackend>: CPUWorkLoop {
  /// A time slice when vCPUs share a core.
  static var sliceMilliseconds: UInt32 { 5 }

  let backend: Backend
  let console: HypervisorConsole
  let vms: [VirtualMachine]
  let placement: MachinePlacement
  /// Free physical frames before any VM existed: every VM's end must give them all back.
  let framesBeforeVMs: Int
  let kicker = HostKicker()
  private let endedVMs = Atomic<Int>(0)

  init(
    backend: Backend, console: HypervisorConsole, vms: [VirtualMachine],
    placement: MachinePlacement, framesBeforeVMs: Int
  ) {
    self.framesBeforeVMs = framesBeforeVMs
    self.backend = backend
    self.console = console
    self.vms = vms
    self.placement = placement
  }

  /// Hands every vCPU to the CPU admission placed it on (MachinePlacement). Runs on the
  /// BSP before any CPU schedules.
  func placeAll() {
    for vm in vms {
      vm.attachedVCPUs.store(vm.vcpus.count, ordering: .releasing)
      for vcpu in vm.vcpus {
        vcpu.kicker = kicker
        // PAUSE-loop window: exits within 10 µs of each other are one spin-wait, which
        // yields after 200 µs (KVM's ple_gap and ple_window are of this order).
        let perMicrosecond = max(LocalAPIC.tscPerMillisecond / 1000, 1)
        vcpu.pauseLoop = PauseLoopDetector(gap: 10 * perMicrosecond, window: 200 * perMicrosecond)
        let cpu = CPUs.all[vm.hostCPUs[vcpu.index]]
        vcpu.hostCPU.store(cpu.index, ordering: .releasing)
        cpu.post(.adopt(ScheduledVCPU(vm: vm, vcpu: vcpu)))
      }
    }
  }

  func run(on cpu: PhysicalCPU) -> Never {
    while true {
      for message in cpu.takePosted() {
        switch message {
        case .adopt(let entry): cpu.runQueue.append(entry)
        }
        cpu.queueLength.store(cpu.runQueue.count, ordering: .releasing)
      }
      detachEnded(on: cpu)
      wakeHalted(on: cpu)
      let gangTurn = placement.gangTurn(cpu: cpu.index, at: arch_rdtsc())
      if let entry = next(on: cpu, gangTurn: gangTurn?.entry, hasGang: gangTurn != nil) {
        runSlice(entry, on: cpu, until: gangTurn?.ends)
      } else {
        idle(cpu, until: gangTurn?.ends)
      }
    }
  }

  // MARK: Slices

  /// Gang VMs run only in their slot, all vCPUs at once on their CPUs (`gangTurn`: this
  /// CPU's entry in the current slot). Other vCPUs take turns round robin, in the slots
  /// where no gang vCPU runs here.
  private func next(
    on cpu: PhysicalCPU, gangTurn: GangSchedule.Entry?, hasGang: Bool
  ) -> ScheduledVCPU? {
    if let turn = gangTurn,
      let entry = cpu.runQueue.first(where: { $0.vm.id == turn.vm && $0.vcpu.index == turn.vcpu }),
      entry.vcpu.state == .runnable, entry.vm.state == .running,
      !entry.vm.stopClaimed.load(ordering: .acquiring)
    {
      return entry
    }
    let count = cpu.runQueue.count
    var tried = 0
    while tried < count {
      let index = (cpu.nextInQueue + tried) % count
      let entry = cpu.runQueue[index]
      if entry.vcpu.state == .runnable && entry.vm.state == .running
        && !entry.vm.stopClaimed.load(ordering: .acquiring)
        && !(hasGang && entry.vm.profile.scheduling == .gang)
      {
        cpu.nextInQueue = (index + 1) % count
        return entry
      }
      tried += 1
    }
    return nil
  }

  private func runSlice(_ entry: ScheduledVCPU, on cpu: PhysicalCPU, until gangSwitch: UInt64?) {
    let vm = entry.vm
    let vcpu = entry.vcpu
    // A gang slot ends for every CPU at once. Otherwise: another vCPU waiting for this
    // core needs the slice to end; alone, the vCPU runs until it exits for its own reasons
    // (HPC: no host ticks on a core with one vCPU).
    // PAUSE is intercepted only where a spin-wait may wait for a sibling this core keeps
    // from running: another runnable vCPU of the same VM here (the lock holder). Never in a
    // gang slot, where the VM's vCPUs run together by construction.
    cpu.interceptsPause = gangSwitch == nil && hasRunnableSibling(of: vcpu, in: vm, on: cpu)
    if let gangSwitch {
      LocalAPIC.armSlice(untilTSC: gangSwitch)
    } else if sharesCore(cpu) {
      LocalAPIC.armSlice(milliseconds: Self.sliceMilliseconds)
    } else {
      cpu.timer = SliceTimer(expired: false, sliceDeadline: UInt64.max, armedDeadline: 0)
    }
    if vm.firstEntryTime == nil { vm.firstEntryTime = arch_rdtsc() }
    cpu.setActivity(.guest)
    // Look again after announcing the guest, as `idle` does after announcing sleep: a
    // poster that saw this CPU busy sent no kick, and a vCPU alone here (no slice timer, no
    // PAUSE exits) might never leave the guest to let the scheduler take the mail, such as
    // a sibling vCPU adopted just after this one (which it then spins waiting for). A kick
    // sent after this load is pending at the entry and ends the slice (InterruptRouting).
    if cpu.hasPosted.load(ordering: .sequentiallyConsistent) {
      cpu.setActivity(.busy)
      LocalAPIC.disarm()
      return
    }
    let result = backend.run(vm, vcpu: vcpu, on: cpu)
    cpu.setActivity(.busy)
    LocalAPIC.disarm()
    if case .stopped(let reason) = result {
      stop(vm, reason: reason, vcpu: vcpu)
    } else if sharesCore(cpu) {
      giveAwayShared(vcpu, of: vm, from: cpu)
    }
  }

  /// `sched=shared` vCPUs may move: a vCPU that waited for a shared core goes to an online
  /// CPU asleep with an empty queue (that no pinned or gang VM uses). It leaves this CPU
  /// first (the backend's detach: on VT-x, VMCLEAR here, SDM 3C §24.11.1), then the other
  /// CPU adopts it from its inbox.
  private func giveAwayShared(_ vcpu: VirtualCPU, of vm: VirtualMachine, from cpu: PhysicalCPU) {
    guard vm.profile.scheduling == .shared, vcpu.state == .runnable,
      !vm.stopClaimed.load(ordering: .acquiring),
      let target = CPUs.all.first(where: {
        $0 !== cpu && $0.online.load(ordering: .acquiring) && $0.currentActivity == .idle
          && $0.queueLength.load(ordering: .acquiring) == 0
      }),
      placement.moveShared(vm: vm.id, from: cpu.index, to: target.index),
      let position = cpu.runQueue.firstIndex(where: { $0.vcpu === vcpu })
    else { return }
    backend.detach(vm, vcpu: vcpu, from: cpu)
    let entry = cpu.runQueue.remove(at: position)
    cpu.nextInQueue = 0
    cpu.queueLength.store(cpu.runQueue.count, ordering: .releasing)
    cpu.migrationsOut &+= 1
    target.queueLength.wrappingAdd(1, ordering: .acquiringAndReleasing)
    vcpu.hostCPU.store(target.index, ordering: .sequentiallyConsistent)
    target.post(.adopt(entry))
  }

  private func hasRunnableSibling(
    of vcpu: VirtualCPU, in vm: VirtualMachine, on cpu: PhysicalCPU
  ) -> Bool {
    cpu.runQueue.contains { $0.vm === vm && $0.vcpu !== vcpu && $0.vcpu.state == .runnable }
  }

  private func sharesCore(_ cpu: PhysicalCPU) -> Bool {
    var others = 0
    for entry in cpu.runQueue where entry.vcpu.state != .stopped && !entry.vm.isStopped {
      others += 1
      if others > 1 { return true }
    }
    return false
  }

  /// A halted vCPU wakes when its APIC has an interrupt or NMI to deliver; requests posted to
  /// it (an IPI) are taken into its APIC first, here, by the CPU that owns it.
  /// A stopped vCPU's requests are taken too, and come to nothing (INIT and SIPI leave it
  /// stopped): left pending, they kept `idle` from ever sleeping, so the CPU spun with
  /// interrupts masked and other CPUs' kicks to it waited for delivery (the INIT/SIPI
  /// storm, whose target had parked with HLT and IF = 0, stalled its sender under Bochs).
  private func wakeHalted(on cpu: PhysicalCPU) {
    for entry in cpu.runQueue where entry.vcpu.state != .runnable {
      // A start-up IPI makes a waiting vCPU runnable here (its startupState is loaded by
      // the backend before the entry).
      if entry.vcpu.hasRequests { RequestDrain.drainWhileAsleep(entry.vcpu, vm: entry.vm) }
      if entry.vcpu.state == .halted && InterruptDelivery.shouldWake(entry.vcpu) {
        entry.vcpu.state = .runnable
      }
    }
  }

  /// Nothing to run: sleep until a kick, new mail, or the earliest guest timer among the
  /// halted vCPUs here. A VM whose vCPUs are all halted with nothing that could ever wake
  /// them is stopped instead.
  private func idle(_ cpu: PhysicalCPU, until gangSwitch: UInt64?) {
    cpu.setActivity(.idle)
    // Look again after announcing sleep: a poster that saw us busy did not send an IPI.
    // A VM that ended needs its vCPUs detached here, even if its stop request was already
    // drained (wakeHalted takes requests of sleeping vCPUs).
    if cpu.hasPosted.load(ordering: .sequentiallyConsistent)
      || cpu.runQueue.contains(where: {
        $0.vcpu.hasRequests || $0.vcpu.state == .runnable
          || $0.vm.stopClaimed.load(ordering: .sequentiallyConsistent)
      })
    {
      cpu.setActivity(.busy)
      return
    }
    var deadline: UInt64?
    for entry in cpu.runQueue where entry.vcpu.state == .halted && !entry.vm.isStopped {
      if let due = entry.vcpu.localAPIC?.deadline, due < deadline ?? UInt64.max { deadline = due }
    }
    if deadline == nil && gangSwitch == nil { stopVMsThatCannotWake(on: cpu) }
    if let gangSwitch, gangSwitch < deadline ?? UInt64.max { deadline = gangSwitch }
    if let deadline {
      cpu.timer = SliceTimer(expired: false, sliceDeadline: deadline, armedDeadline: 0)
      LocalAPIC.arm(untilTSC: deadline)
    }
    cpu.sleeps &+= 1
    arch_sti_hlt_cli()
    cpu.setActivity(.busy)
    LocalAPIC.disarm()
  }

  /// Every vCPU of the VM halted or stopped, none with a timer or a request: nothing can
  /// wake it (the VM has no device that interrupts by itself), so it ends.
  private func stopVMsThatCannotWake(on cpu: PhysicalCPU) {
    for entry in cpu.runQueue where !entry.vm.isStopped {
      let vm = entry.vm
      let asleep = vm.vcpus.allSatisfy {
        ($0.state == .halted || $0.state == .stopped || $0.state == .waitingForStartup)
          && !$0.hasRequests
          && $0.localAPIC?.deadline == nil
      }
      if asleep && vm.state == .running {
        stop(vm, reason: .haltedWithoutInterruptSource, vcpu: entry.vcpu)
      }
    }
  }

  // MARK: Ending VMs

  /// Ends `vm` from the CPU that ran `vcpu`: reports once, and asks its other vCPUs' CPUs
  /// to let go of them (they may be in the guest right now: the request kicks them out).
  func stop(_ vm: VirtualMachine, reason: StopReason, vcpu: VirtualCPU) {
    guard
      vm.stopClaimed.compareExchange(
        expected: false, desired: true, ordering: .acquiringAndReleasing
      ).exchanged
    else { return }
    vm.state = .stopped(reason)
    vm.endTime = arch_rdtsc()
    for other in vm.vcpus where other !== vcpu { other.post(.stop) }
    console.flush(vm.name)
    Console.together {
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
    }
  }

  /// Takes the vCPUs of ended VMs out of this CPU's queue; the last one out releases the VM.
  private func detachEnded(on cpu: PhysicalCPU) {
    guard cpu.runQueue.contains(where: { $0.vm.stopClaimed.load(ordering: .acquiring) }) else {
      return
    }
    var kept: [ScheduledVCPU] = []
    for entry in cpu.runQueue {
      guard entry.vm.stopClaimed.load(ordering: .acquiring) else {
        kept.append(entry)
        continue
      }
      backend.detach(entry.vm, vcpu: entry.vcpu, from: cpu)
      entry.vcpu.state = .stopped
      entry.vcpu.hostCPU.store(-1, ordering: .releasing)
      if entry.vm.attachedVCPUs.wrappingSubtract(1, ordering: .acquiringAndReleasing).oldValue == 1
      {
        release(entry.vm)
      }
    }
    cpu.runQueue = kept
    cpu.nextInQueue = 0
    cpu.queueLength.store(kept.count, ordering: .releasing)
  }

  private func release(_ vm: VirtualMachine) {
    // Printed by the CPU its last vCPU leaves, maybe long after the stop line and after other
    // VMs' lines: named again, and kept whole.
    Console.together {
      Log.begin(.info)
      VMReport.vmLabel(vm)
      if let start = vm.firstEntryTime, let end = vm.endTime {
        Console.write(": lifetime ")
        Console.write(decimal: end &- start)
        Console.write(" cycles from its first entry to its end")
      } else {
        Console.write(": never entered")
      }
      Log.end()
      VMReport.statistics(vm.totalStatistics())
    }
    backend.release(vm)
    if let space = vm.addressSpace {
      unsafeDowncast(space, to: GuestAddressSpace<Backend.NestedFormat>.self).release()
      vm.addressSpace = nil
    }
    placement.release(vm: vm.id)
    if endedVMs.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue + 1 == vms.count {
      Console.together {
        Summary.print(vms)
        Summary.printFrames(before: framesBeforeVMs)
        SMPReport.print()
      }
      Machine.halt(status: .success)
    }
  }
}

/// The loop every CPU runs once the hypervisor has work: the scheduler, behind a class-bound
/// protocol so CPUs that start before the backend is chosen can wait for it.
protocol CPUWorkLoop: AnyObject {
  func run(on cpu: PhysicalCPU) -> Never
}
