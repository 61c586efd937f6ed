import CArch
import HypervisorCore
import Synchronization

/// Runs the VMs' vCPUs on every CPU. One object serves all CPUs; each CPU runs `run(on:)`
/// over its own run queue, so no CPU waits for another to schedule. vCPUs arrive in a run
/// queue through the CPU's inbox (`place`). Per CPU: round robin over its runnable vCPUs,
/// a time slice only when something else waits for the core (a core with one vCPU runs it
/// without host ticks), and HLT when every vCPU is halted. A VM that stops is reported by
/// the CPU that saw it stop; the CPU that detaches its last vCPU releases it and tells the
/// VM manager (which prints the summary once no VM is left, and powers off in batch mode).
/// A paused VM's vCPUs park on their CPUs between slices and cost no CPU time.
final class Scheduler<Backend: VirtualizationBackend>: CPUWorkLoop {
  /// A time slice when vCPUs share a core.
  static var sliceMilliseconds: UInt32 { 5 }

  let backend: Backend
  let console: HypervisorConsole
  let placement: MachinePlacement
  let kicker = HostKicker()
  /// Told when a VM starts ending and when it is released; runs CPU 0's node service.
  /// Set once, before any CPU schedules.
  var manager: VMManager<Backend>!

  init(backend: Backend, console: HypervisorConsole, placement: MachinePlacement) {
    self.backend = backend
    self.console = console
    self.placement = placement
  }

  /// Hands every vCPU of a new VM to the CPU admission placed it on (MachinePlacement).
  /// Runs on the CPU that created the VM, at boot or at run time.
  func place(_ vm: VirtualMachine) {
    vm.attachedVCPUs.store(vm.vcpus.count, ordering: .releasing)
    for vcpu in vm.vcpus {
      vcpu.kicker = kicker
      vcpu.flight.clock = kicker
      // PAUSE-loop window: exits within 10 µs of each other are one spin-wait, which
      // yields after 200 µs (KVM's ple_gap and ple_window are of this order).
      let perMicrosecond = max(LocalAPIC.tscPerMillisecond / 1000, 1)
      vcpu.pauseLoop = PauseLoopDetector(gap: 10 * perMicrosecond, window: 200 * perMicrosecond)
      let cpu = CPUs.all[vm.hostCPUs[vcpu.index]]
      vcpu.hostCPU.store(cpu.index, ordering: .releasing)
      cpu.post(.adopt(ScheduledVCPU(vm: vm, vcpu: vcpu)))
    }
  }

  func run(on cpu: PhysicalCPU) -> Never {
    MachineCheckPolling.start(on: cpu)
    while true {
      cpu.heartbeat.store(arch_rdtsc(), ordering: .relaxed)
      MachineCheckPolling.pollIfDue(on: cpu)
      for message in cpu.takePosted() {
        switch message {
        case .adopt(let entry): cpu.runQueue.append(entry)
        case .reschedule: break
        }
        cpu.queueLength.store(cpu.runQueue.count, ordering: .releasing)
      }
      detachEnded(on: cpu)
      // The node's network is CPU 0's (docs/management-network.md).
      if cpu.index == 0 { ManagementNetwork.service() }
      applyPause(on: cpu)
      wakeHalted(on: cpu)
      // The node's own work (control requests, test scripts) runs on CPU 0 between slices.
      let serviceDue = cpu.index == 0 ? manager.serviceTick() : nil
      let gangTurn = placement.gangTurn(cpu: cpu.index, at: arch_rdtsc())
      if let entry = next(on: cpu, gangTurn: gangTurn?.entry, hasGang: gangTurn != nil) {
        runSlice(
          entry, on: cpu, until: gangTurn?.ends, service: cpu.index == 0 && manager.service != nil)
      } else {
        idle(cpu, until: gangTurn?.ends, service: serviceDue)
      }
    }
  }

  // MARK: Pause

  /// Parks the vCPUs here whose VM is pausing, and lets those of a resumed VM go, with
  /// their clocks set back by the time the VM stood still: guest time does not advance
  /// while a VM is paused (docs/lifecycle.md). Between slices only: a vCPU in the guest
  /// was made to exit by the `reschedule` request the pause posted.
  private func applyPause(on cpu: PhysicalCPU) {
    for entry in cpu.runQueue {
      let vm = entry.vm
      let vcpu = entry.vcpu
      if vm.stopClaimed.load(ordering: .acquiring) { continue }
      let wanted = vm.pauseRequested.load(ordering: .acquiring)
      if wanted && !vcpu.parked {
        // Captured here, at the safe point, by the vCPU's own CPU (docs/vm-state.md); the
        // count below publishes it to the CPU that parks the last vCPU. An EOI the guest
        // made through its paravirtual flag is made first, so the saved APIC is current.
        if let apic = vcpu.localAPIC { vcpu.paravirtualEOI.settle(apic, memory: vm.memory) }
        vcpu.pausedState = backend.captureState(vm, vcpu: vcpu, on: cpu).map {
          SavedVMState.VCPU(architectural: $0, localAPIC: vcpu.localAPIC?.save())
        }
        vcpu.parked = true
        if vm.parkedVCPUs.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue + 1
          == vm.vcpus.count
        {
          let parkedAt = arch_rdtsc()
          vm.allParkedAt.store(parkedAt, ordering: .releasing)
          // A TSC offset means nothing on another host: the saved records carry the
          // guest's TSC at this instant instead (PortableTSC, docs/checkpoint.md). The other
          // CPUs' records were published to this one by the parked count above.
          for other in vm.vcpus {
            other.pausedState?.architectural.tscOffset = PortableTSC.saved(
              offset: other.pausedState?.architectural.tscOffset ?? 0, pausedAtHostTSC: parkedAt)
          }
          vm.savedState = vm.encodePausedState()
          manager.allParked(vm)
        }
      } else if !wanted && vcpu.parked {
        // An incoming VM's first unpark: its saved record goes into the VMCB or VMCS here,
        // on the vCPU's own CPU (docs/checkpoint.md).
        if let record = vcpu.incomingState {
          vcpu.incomingState = nil
          if !applyIncoming(record, to: vcpu, of: vm, on: cpu) { continue }
        }
        let shift = vm.pausedCycles &- vcpu.appliedPauseShift
        if shift != 0 {
          backend.shiftGuestTime(vm, vcpu: vcpu, by: shift, on: cpu)
          vcpu.localAPIC?.shiftTime(by: shift)
          vcpu.appliedPauseShift = vm.pausedCycles
        }
        vcpu.parked = false
        vcpu.pausedState = nil
        vm.parkedVCPUs.wrappingSubtract(1, ordering: .acquiringAndReleasing)
      }
      // A parked vCPU's requests (the pause's reschedule, interrupts) are taken here, so
      // that they do not keep this CPU from sleeping.
      if vcpu.parked && vcpu.hasRequests { RequestDrain.drainWhileAsleep(vcpu, vm: vm) }
    }
  }

  /// Applies a restored vCPU record with the backend, its TSC offset set so that the
  /// guest's TSC continues from the value saved (PortableTSC), and restores its local APIC.
  /// A record the backend refuses ends the VM (nothing else could run it).
  private func applyIncoming(
    _ record: SavedVMState.VCPU, to vcpu: VirtualCPU, of vm: VirtualMachine, on cpu: PhysicalCPU
  ) -> Bool {
    var architectural = record.architectural
    architectural.tscOffset = PortableTSC.offset(
      saved: architectural.tscOffset, hostNow: arch_rdtsc())
    guard backend.applyState(vm, vcpu: vcpu, state: architectural, on: cpu) else {
      Log.error("restore: the backend refused a vCPU's saved state")
      stop(vm, reason: .entryFailure(code: 0), vcpu: vcpu)
      return false
    }
    if let apic = record.localAPIC {
      vcpu.localAPIC?.restore(apic)
      vcpu.placeLocalAPIC()  // its IA32_APIC_BASE may name another page
    }
    return true
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
      entry.vcpu.state == .runnable, entry.vm.state == .running, !entry.vcpu.parked,
      !entry.vm.stopClaimed.load(ordering: .acquiring)
    {
      return entry
    }
    let count = cpu.runQueue.count
    var tried = 0
    let now = arch_rdtsc()
    while tried < count {
      let index = (cpu.nextInQueue + tried) % count
      let entry = cpu.runQueue[index]
      if entry.vcpu.state == .runnable && entry.vm.state == .running && !entry.vcpu.parked
        && entry.vcpu.throttledUntil <= now
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

  /// `service`: CPU 0 has node work (control requests, a test script) that needs the
  /// core back now and then, so the slice ends even for a vCPU alone on it.
  private func runSlice(
    _ entry: ScheduledVCPU, on cpu: PhysicalCPU, until gangSwitch: UInt64?, service: Bool
  ) {
    let vm = entry.vm
    let vcpu = entry.vcpu
    // A gang slot ends for every CPU at once. Otherwise: another vCPU waiting for this
    // core needs the slice to end; alone, the vCPU runs until it exits for its own reasons
    // (HPC: no host ticks on a core with one vCPU).
    // PAUSE is intercepted only where a spin-wait may wait for a sibling this core keeps
    // from running: another runnable vCPU of the same VM here (the lock holder). Never in a
    // gang slot, where the VM's vCPUs run together by construction.
    cpu.interceptsPause = gangSwitch == nil && hasRunnableSibling(of: vcpu, in: vm, on: cpu)
    // Auto-converge: a throttled vCPU's slice ends on time even alone on its core, and it
    // is then held out in proportion (AutoConverge.hold).
    let throttle = vm.throttlePercent.load(ordering: .relaxed)
    if let gangSwitch {
      LocalAPIC.armSlice(untilTSC: gangSwitch)
    } else if service || sharesCore(cpu) || throttle > 0 {
      LocalAPIC.armSlice(milliseconds: Self.sliceMilliseconds)
    } else if cpu.index == 0 && ManagementNetwork.needsPollTicks {
      LocalAPIC.armSlice(milliseconds: UInt32(ManagementNetwork.pollMilliseconds))
    } else {
      cpu.timer = SliceTimer(expired: false, sliceDeadline: UInt64.max, armedDeadline: 0)
    }
    if vm.firstEntryTime == nil { vm.firstEntryTime = arch_rdtsc() }
    cpu.setActivity(.guest)
    // A CPU that posted to this one while it was busy sent no kick: look at the inbox after
    // announcing the guest (the poster stores, then reads the activity; seq_cst both ways),
    // or a lone vCPU with no slice timer would keep the core and the mail would wait.
    if cpu.hasPosted.load(ordering: .sequentiallyConsistent) {
      cpu.setActivity(.busy)
      LocalAPIC.disarm()
      return
    }
    let sliceStart = arch_rdtsc()
    vcpu.flight.record(.slice, detail: UInt64(cpu.index), tsc: sliceStart)
    vcpu.inSlice.store(true, ordering: .sequentiallyConsistent)
    let result = backend.run(vm, vcpu: vcpu, on: cpu)
    vcpu.inSlice.store(false, ordering: .sequentiallyConsistent)
    let sliceEnd = arch_rdtsc()
    if case .halted = result, vcpu.state == .halted {
      vcpu.flight.record(.halted, detail: UInt64(cpu.index), tsc: sliceEnd)
    }
    vcpu.sliceCycles &+= sliceEnd &- sliceStart
    if throttle > 0 {
      vcpu.throttledUntil =
        sliceEnd &+ AutoConverge.hold(ran: sliceEnd &- sliceStart, percent: throttle)
    }
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
      !vm.stopClaimed.load(ordering: .acquiring), !vm.pauseRequested.load(ordering: .acquiring),
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
    for entry in cpu.runQueue
    where entry.vcpu.state != .stopped && !entry.vm.isStopped && !entry.vcpu.parked {
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
  /// `service`: when CPU 0's node service wants to run again.
  private func idle(_ cpu: PhysicalCPU, until gangSwitch: UInt64?, service: UInt64?) {
    cpu.setActivity(.idle)
    // Look again after announcing sleep: a poster that saw us busy did not send an IPI.
    // A VM that ended needs its vCPUs detached here, even if its stop request was already
    // drained (wakeHalted takes requests of sleeping vCPUs).
    if cpu.hasPosted.load(ordering: .sequentiallyConsistent)
      || (cpu.index == 0 && ManagementNetwork.hasWork)
      || cpu.runQueue.contains(where: {
        $0.vcpu.hasRequests
          || ($0.vcpu.state == .runnable && !$0.vcpu.parked
            && $0.vcpu.throttledUntil <= arch_rdtsc())
          || $0.vm.stopClaimed.load(ordering: .sequentiallyConsistent)
          || $0.vm.pauseRequested.load(ordering: .sequentiallyConsistent) == !$0.vcpu.parked
      })
    {
      cpu.setActivity(.busy)
      return
    }
    var deadline: UInt64?
    for entry in cpu.runQueue
    where entry.vcpu.state == .halted && !entry.vm.isStopped && !entry.vcpu.parked {
      if let due = entry.vcpu.localAPIC?.deadline, due < deadline ?? UInt64.max { deadline = due }
    }
    // A throttled vCPU runs again when its hold ends.
    for entry in cpu.runQueue
    where entry.vcpu.state == .runnable && !entry.vcpu.parked && !entry.vm.isStopped {
      let due = entry.vcpu.throttledUntil
      if due < deadline ?? UInt64.max { deadline = due }
    }
    stopVMsThatCannotWake(on: cpu)
    if let gangSwitch, gangSwitch < deadline ?? UInt64.max { deadline = gangSwitch }
    if cpu.index == 0, let due = ManagementNetwork.wakeDeadline(), due < deadline ?? UInt64.max {
      deadline = due
    }
    if let service, service < deadline ?? UInt64.max { deadline = service }
    if let poll = cpu.machineCheckPollDue, poll < deadline ?? UInt64.max { deadline = poll }
    if let deadline {
      cpu.timer = SliceTimer(expired: false, sliceDeadline: deadline, armedDeadline: 0)
      LocalAPIC.arm(untilTSC: deadline)
    }
    cpu.sleeps &+= 1
    arch_sti_hlt_cli()
    cpu.setActivity(.busy)
    LocalAPIC.disarm()
  }

  /// This CPU's vCPUs that nothing can wake (halted, stopped or waiting for SIPI, without a
  /// request, a pending interrupt or a guest timer) leave their VM's awake count; the one
  /// that takes it to zero ends the VM: no vCPU is left to send an IPI and the VM has no
  /// device that interrupts by itself. Each CPU judges only its own vCPUs (AwakeVCPUs).
  private func stopVMsThatCannotWake(on cpu: PhysicalCPU) {
    for entry in cpu.runQueue
    where !entry.vm.isStopped && !entry.vm.pauseRequested.load(ordering: .acquiring) {
      let vcpu = entry.vcpu
      if vcpu.parked { continue }
      guard
        vcpu.state == .halted || vcpu.state == .stopped || vcpu.state == .waitingForStartup,
        !vcpu.hasRequests, vcpu.localAPIC?.deadline == nil,
        vcpu.localAPIC?.hasDeliverableInterrupt != true, vcpu.localAPIC?.nmiPending != true
      else { continue }
      if vcpu.noteAsleep() && entry.vm.state == .running {
        stop(entry.vm, reason: .haltedWithoutInterruptSource, vcpu: vcpu)
      }
    }
  }

  // MARK: Ending VMs

  /// Ends `vm` from the CPU that ran `vcpu` (nil: the VM manager's destroy, from any CPU):
  /// reports once, and asks its other vCPUs' CPUs to let go of them (they may be in the
  /// guest right now: the request kicks them out). Returns false if it was already ending.
  @discardableResult
  func stop(_ vm: VirtualMachine, reason: StopReason, vcpu: VirtualCPU?) -> Bool {
    guard
      vm.stopClaimed.compareExchange(
        expected: false, desired: true, ordering: .acquiringAndReleasing
      ).exchanged
    else { return false }
    vm.state = .stopped(reason)
    vm.endTime = arch_rdtsc()
    manager.stopping(vm)
    for other in vm.vcpus where other !== vcpu { other.post(.stop) }
    // Their CPUs may be running another VM's vCPU that never exits (one CPU shared with a
    // compute loop): without a kick the ended vCPUs would be detached, and the VM released
    // (its passed-through functions reset), only when that vCPU gave up the core. The CPU
    // stopping from a vCPU of the VM goes back to its queue by itself.
    vm.rescheduleHostCPUs(skipping: vcpu == nil ? nil : CPUs.currentIndex)
    console.flush(vm.name)
    if vm.quietReports { return true }
    Console.together {
      Log.begin(VMReport.isFault(reason) ? .warning : .info)
      VMReport.vmLabel(vm)
      Console.write(": ")
      VMReport.describe(reason)
      Log.end()
      if VMReport.isFault(reason), let vcpu {
        Console.write("  vCPU ")
        Console.write(decimal: UInt64(vcpu.index))
        Console.write(" state:\n")
        VMReport.registers(vcpu)
        backend.dump(vm, vcpu: vcpu)
      }
      // Every vCPU's last events (FlightDump, docs/smp.md "Flight recorder").
      if FlightDump.wanted(for: reason) { FlightDump.print(vm, end: vm.endTime ?? arch_rdtsc()) }
    }
    return true
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
      entry.vcpu.parked = false
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
    if !vm.quietReports { report(released: vm) }
    // Off the switch before its memory goes (docs/guest-io.md).
    if !vm.quietReports { GuestNICs.report(vm) }
    GuestNICs.release(vm)
    if let trace = vm.exitTrace {
      ExitTraceReadout.print(trace, vm: vm)
      vm.recordingClock?.detach()
      vm.exitTrace = nil
    }
    backend.release(vm)
    // A transferred disk is freed, or kept for reading back when the VM ended by itself.
    TransferredDisks.released(vm)
    // Its PCI functions wait for CPU 0 to stop and reset them; until then its domain's
    // context entries are gone, so their DMA reaches nothing.
    PassthroughDevices.released(vm: vm.name)
    IOMMU.vmReleased(name: vm.name)  // before the RAM its domain maps is freed
    if let space = vm.addressSpace {
      unsafeDowncast(space, to: GuestAddressSpace<Backend.NestedFormat>.self).release()
      vm.addressSpace = nil
    }
    // Before `released`: the node's summary counts every frame back once no VM is left.
    if let disk = vm.disk {
      vm.disk = nil
      VMDisk.release(disk)
    }
    placement.release(vm: vm.id)
    manager.released(vm)
  }

  private func report(released vm: VirtualMachine) {
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
      let tableFrames =
        vm.addressSpace.map {
          unsafeDowncast($0, to: GuestAddressSpace<Backend.NestedFormat>.self).tableFrameCount
        } ?? 0
      VMReport.footprint(vm, tableFrames: tableFrames)
      VMReport.statistics(vm.totalStatistics())
      VMDiskReport.print(vm)
      VMReport.pci(vm)
    }
  }
}

/// The loop every CPU runs once the hypervisor has work: the scheduler, behind a class-bound
/// protocol so CPUs that start before the backend is chosen can wait for it.
protocol CPUWorkLoop: AnyObject {
  func run(on cpu: PhysicalCPU) -> Never
}
