import CArch
import HypervisorCore
import Memory
import SVM

/// Runs one vCPU under SVM until its time slice ends, it halts, or its VM stops. The exit
/// path: world switch, copy the four VMCB-held registers, decode, dispatch, count.
enum SVMRunLoop {
  static func run(
    _ guest: SVMGuest, vcpu: VirtualCPU, processor: SVMProcessor, cpu: PhysicalCPU,
    console: HypervisorConsole
  ) -> SliceResult {
    guest.loadStartupState(vcpu)
    let vmcbAddress = guest.vmcbs[vcpu.index]
    let vmcb = VMCB(base: IdentityMappedMemory().pointer(to: vmcbAddress))
    let hostVMCB = processor.hostVMCB
    let nextRIPSave = processor.features.nextRIPSave
    let registers = vcpu.registerFile.assumingMemoryBound(to: GuestRegisters.self)
    let vm = guest.vm
    // The ASID for this slice: a vCPU stays on this CPU until the slice ends, and only this
    // CPU's own assignments can start a new generation.
    let asid = processor.asids.assign(&guest.asidRecords[vcpu.index])
    if asid.isNew {
      vmcb[VMCBOffset.guestASID, as: UInt32.self] = asid.asid
      vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~(1 << 2)  // clean bit 2: ASID
    }
    // TLB_CONTROL 1: flush every ASID's entries (APM §15.16.1), once per new generation.
    if asid.flushAll {
      vmcb[VMCBOffset.tlbControl, as: UInt8.self] = 1
      if Log.begin(.debug) {
        Console.write("svm: ASID generation ")
        Console.write(decimal: processor.asids.generation)
        Log.end()
      }
    }
    interceptPause(vmcb, cpu.interceptsPause)
    // TSC_AUX and PKRU: the guest's for the slice, neither in the VMCB.
    GuestAuxiliaryRegisters.load(vcpu, vm: vm)
    defer { GuestAuxiliaryRegisters.save(vcpu, vm: vm) }
    // The world switch's fast path (ExitFastPath): on unless an interrupt is offered or NMI
    // blocking is tracked (deliverInterrupts decides per entry where there is an APIC), and
    // off for a traced VM, whose every exit must reach its recorder.
    let fast = ExitFastPath.block(guest.fastPaths[vcpu.index])
    ExitFastPath.prepare(fast, vcpu: vcpu, vm: vm)
    fast.pointee.enabled = vm.exitTrace == nil ? 1 : 0
    var offered: UInt8? = nil
    var outside = OutsideGuestClock(cpu)
    defer { outside.leaving(cpu, vcpu.statistics) }
    while true {
      if vcpu.hasRequests,
        let ended = handleRequests(vmcb, guest: guest, vcpu: vcpu, vm: vm, processor: processor)
      {
        return ended
      }
      if vcpu.localAPIC != nil {
        offered = deliverInterrupts(
          vmcb, vcpu: vcpu, vm: vm, cpu: cpu, rip: registers.pointee.rip, fast: fast)
      }
      if vcpu.codeCacheGeneration != fast.pointee.proof_generation {
        ExitFastPath.copyProof(fast, vcpu: vcpu)
      }
      if vcpu.pendingEvent != nil { injectPendingEvent(vmcb, vcpu: vcpu) }
      vmcb.set(VMCBOffset.rax, registers.pointee.rax)
      vmcb.set(VMCBOffset.rsp, registers.pointee.rsp)
      vmcb.set(VMCBOffset.rip, registers.pointee.rip)
      vmcb.set(VMCBOffset.rflags, registers.pointee.rflags)

      outside.entering()
      svm_world_switch(vmcbAddress, hostVMCB, vcpu.registerFile, fast)

      let exitTime = arch_rdtsc()
      outside.exited(at: exitTime)
      registers.pointee.rax = vmcb.u64(VMCBOffset.rax)
      registers.pointee.rsp = vmcb.u64(VMCBOffset.rsp)
      registers.pointee.rip = vmcb.u64(VMCBOffset.rip)
      registers.pointee.rflags = vmcb.u64(VMCBOffset.rflags)
      vmcb[VMCBOffset.tlbControl, as: UInt8.self] = 0
      if fast.pointee.served != 0 { ExitFastPath.countServed(fast, vcpu: vcpu) }
      if let apic = vcpu.localAPIC { takeGuestTaskPriority(vmcb, apic) }
      if let vector = offered {
        offered = nil
        acknowledgeIfTaken(vector, vmcb, vcpu: vcpu)
      }
      // An EOI the guest made through its paravirtual flag, after the offer it retires.
      if vcpu.paravirtualEOI.flagSet, let apic = vcpu.localAPIC {
        vcpu.paravirtualEOI.afterExit(apic, statistics: vcpu.statistics)
      }
      // An event whose delivery the exit interrupted is delivered again (APM §15.7.2).
      let interrupted = vmcb.u64(VMCBOffset.exitInterruptInfo)
      if interrupted & SVMEventInjection.valid == 0 {
        vmcb.set(VMCBOffset.eventInjection, 0)
      } else {
        reinject(interrupted, vmcb)
      }

      if vcpu.nmiBlocking.isStepping, endStepOverIRET(vmcb, vcpu: vcpu) { continue }
      let exit = SVMExitDecoder.decode(vmcb, nextRIPSave: nextRIPSave)
      if case .nestedPageFault(let fault) = exit.reason, fault.access == .write,
        DirtyLogFaults.serve(fault.guestPhysical, vm: vm, format: NestedPagingFormat.self)
      {
        vcpu.statistics.record(.dirtyLog, cycles: arch_rdtsc() &- exitTime)
        if cpu.timer.isOver(at: exitTime) { return .preempted }
        continue
      }
      var state = SVMGuestState<GuestVisibleCPUID>(vmcb: vmcb, vcpu: vcpu)
      let exitRIP = registers.pointee.rip
      // A traced VM (trace=N) goes through its recorder, out of line: one test otherwise.
      let outcome =
        vm.exitTrace == nil
        ? ExitDispatcher.dispatch(exit, vcpu: vcpu, vm: vm, guest: &state, console: console)
        : tracedDispatch(exit, vcpu: vcpu, vm: vm, guest: &state, console: console)
      if let result = ExitAccounting.finish(
        exit, outcome, vcpu: vcpu, cpu: cpu, exitTime: exitTime, exitRIP: exitRIP)
      {
        return result
      }
    }
  }

  /// The exit through the VM's exit tracer (ExitTraceRecorder, docs/exit-trace.md).
  @inline(never)
  static func tracedDispatch(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: inout SVMGuestState<GuestVisibleCPUID>, console: HypervisorConsole
  ) -> ExitOutcome {
    vm.exitTrace!.dispatch(exit, vcpu: vcpu, vm: vm, guest: &guest, console: console)
  }

  /// PAUSE exits only while another vCPU waits for this core (APM §15.14.4; no pause
  /// filter: QEMU's TCG has none): a spin-wait then yields the slice to the vCPU it waits for.
  static func interceptPause(_ vmcb: VMCB, _ shared: Bool) {
    var misc = vmcb[VMCBOffset.interceptMisc1, as: UInt32.self]
    let wanted = shared ? misc | SVMIntercept.pause : misc & ~SVMIntercept.pause
    guard wanted != misc else { return }
    misc = wanted
    vmcb[VMCBOffset.interceptMisc1, as: UInt32.self] = misc
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~1  // clean bit 0: intercepts
  }

  /// Requests other CPUs posted (RequestDrain), before the entry: a TLB flush of the VM's
  /// guest-physical translations is TLB_CONTROL 3, this ASID's entries, where the processor
  /// can flush by ASID, else 1, every ASID's (APM §15.16.1). Out of line: rare.
  @inline(never)
  static func handleRequests(
    _ vmcb: VMCB, guest: SVMGuest, vcpu: VirtualCPU, vm: VirtualMachine, processor: SVMProcessor
  ) -> SliceResult? {
    let ended = RequestDrain.beforeEntry(vcpu, vm: vm)
    guest.loadStartupState(vcpu)
    if vcpu.auxiliaryRegistersStale { GuestAuxiliaryRegisters.load(vcpu, vm: vm) }
    if vcpu.tlbFlushPending {
      vcpu.tlbFlushPending = false
      vmcb[VMCBOffset.tlbControl, as: UInt8.self] = processor.features.flushByASID ? 3 : 1
    }
    return ended
  }

  /// The vCPU's pending event, unless the VMCB already holds one (a re-injection), as the
  /// guest's mode delivers it. Out of line: the loop stays small enough for the compiler to
  /// inline the decoder and the dispatcher into it (docs/exit-path.md).
  @inline(never)
  static func injectPendingEvent(_ vmcb: VMCB, vcpu: VirtualCPU) {
    guard let event = vcpu.pendingEvent,
      vmcb.u64(VMCBOffset.eventInjection) & SVMEventInjection.valid == 0
    else { return }
    let protectedMode = vmcb.u64(VMCBOffset.cr0) & 1 != 0
    vmcb.set(
      VMCBOffset.eventInjection,
      SVMEventInjection.encode(event.delivered(protectedMode: protectedMode)))
    vcpu.registers.rflags = event.enteringFlags(vcpu.registers.rflags)  // RF for a fault
    vcpu.pendingEvent = nil
    vcpu.statistics.injectedEvents &+= 1
  }

  /// An event whose delivery the exit interrupted, injected again as the guest's mode
  /// delivers it (APM §15.7.2). Out of line, as rare.
  @inline(never)
  static func reinject(_ interrupted: UInt64, _ vmcb: VMCB) {
    vmcb.set(
      VMCBOffset.eventInjection,
      SVMEventInjection.reinjection(
        interrupted: interrupted, protectedMode: vmcb.u64(VMCBOffset.cr0) & 1 != 0))
  }

  /// The offered interrupt, acknowledged if the guest took it (V_IRQ cleared). Out of line:
  /// the loop stays small enough for the decoder to be inlined.
  @inline(never)
  static func acknowledgeIfTaken(_ vector: UInt8, _ vmcb: VMCB, vcpu: VirtualCPU) {
    if !SVMVirtualInterrupt.isWaiting(vmcb.u64(VMCBOffset.virtualInterrupt)) {
      InterruptDelivery.offerTaken(vcpu, vector: vector)
    }
  }

  /// Local APIC interrupts (InterruptDelivery): the highest pending vector is offered as a
  /// virtual interrupt (SVMVirtualInterrupt), which the processor takes as soon as the guest
  /// can, and the APIC acknowledges once it was taken (checked after the exit). Returns the
  /// vector offered. A guest timer due before the slice ends re-arms the host timer so the
  /// exit comes in time.
  /// NMIs: SVM keeps no NMI blocking for an injected NMI (no V_NMI on QEMU), so the vCPU's
  /// NMIBlocking does, with IRET intercepted while the guest handles one (APM §15.20,
  /// §15.21; SDM 3A §6.7.1); a second NMI waits until the IRET has executed.
  @inline(never)
  static func deliverInterrupts(
    _ vmcb: VMCB, vcpu: VirtualCPU, vm: VirtualMachine, cpu: PhysicalCPU, rip: UInt64,
    fast: ExitFastPath.Block
  ) -> UInt8? {
    vcpu.nmiBlocking.exited(rip: rip, iret: vmcb.u64(VMCBOffset.exitCode) == SVMExitCode.iret)
    endCompletedShadow(vmcb, vcpu: vcpu, rip: rip)  // SVMInterruptShadow
    let event = vmcb.u64(VMCBOffset.eventInjection)
    let injecting = event & SVMEventInjection.valid != 0
    let open = vmcb.u64(VMCBOffset.interruptShadow) & 1 == 0 && !injecting
    // An NMI being re-injected (type 2 in bits 10:8, APM §15.20) blocks further NMIs as one
    // being handled does: only one more is held.
    let nmiBlocked = vcpu.nmiBlocking.isBlocked || (injecting && (event >> 8) & 7 == 2)
    let nmi = InterruptDelivery.prepareNMI(
      vcpu, vm: vm, guestCanTakeNMI: open && !vcpu.nmiBlocking.isBlocked, nmiBlocked: nmiBlocked)
    if nmi == .injected { vcpu.nmiBlocking.nmiInjected() }
    let guestTrapFlag = vcpu.registers.rflags & trapFlag != 0
    if nmi == .needsWindow
      && (vcpu.nmiBlocking.startStepOverIRET(nmiHeld: true, guestTrapFlag: guestTrapFlag)
        || vcpu.nmiBlocking.startStepOverShadow(
          nmiHeld: true, interruptShadow: vmcb.u64(VMCBOffset.interruptShadow) & 1 != 0,
          guestTrapFlag: guestTrapFlag))
    {
      vcpu.registers.rflags |= trapFlag  // written to the VMCB before the entry
      interceptDebugExceptions(vmcb, true)
    }
    var offer = InterruptDelivery.vectorToOffer(vcpu)
    if let vector = offer, holdsOfferInShadow(vmcb, vcpu: vcpu, rip: rip, vector: vector) {
      offer = nil
    }
    if let apic = vcpu.localAPIC {
      vcpu.paravirtualEOI.beforeEntry(apic, offered: offer, memory: vm.memory)
    }
    // V_TPR carries the model's TPR class into the guest's CR8 (takeGuestTaskPriority).
    vmcb.set(
      VMCBOffset.virtualInterrupt,
      (offer.map { SVMVirtualInterrupt.offering($0) } ?? SVMVirtualInterrupt.none)
        | UInt64(vcpu.localAPIC?.taskPriorityClass ?? 0))
    var misc = vmcb[VMCBOffset.interceptMisc1, as: UInt32.self]
    if vcpu.nmiBlocking.wantsIRETIntercept {
      misc |= SVMIntercept.iret
    } else {
      misc &= ~SVMIntercept.iret
    }
    vmcb[VMCBOffset.interceptMisc1, as: UInt32.self] = misc
    if let due = vcpu.localAPIC?.deadline {
      LocalAPIC.arm(untilTSC: min(due, cpu.timer.sliceDeadline))
    }
    // The fast path skips this function: only while nothing is offered (its acknowledgement
    // follows each exit) and no NMI blocking is tracked (it follows each exit's RIP).
    fast.pointee.enabled =
      offer == nil && !vcpu.nmiBlocking.isBlocked && !vcpu.nmiBlocking.isStepping
        && vm.exitTrace == nil ? 1 : 0
    return offer
  }

  static let trapFlag: UInt64 = 1 << 8

  /// The guest's CR8 is V_TPR while it runs (V_INTR_MASKING: MOV CR8 reads and writes
  /// V_TPR without an exit, APM §15.21.3); its local APIC's TPR is the model's, which the
  /// xAPIC page, x2APIC MSR 0x808 and delivery read (SDM 3A §11.8.6.1: CR8 is TPR[7:4]).
  /// Every entry writes the model's class into V_TPR (deliverInterrupts), and only this
  /// vCPU's exits change the model's TPR, so a V_TPR that differs after an exit is a MOV
  /// CR8 the guest made: the model takes it (TPR[3:0] = 0, as MOV CR8 leaves them).
  /// Before the exit is handled, so an MMIO read of TPR sees it (kvm-unit-tests'
  /// apic_disable, "*0xfee00080" after `write_cr8`). Before, V_TPR was zeroed at every
  /// entry and the model never saw CR8.
  @inline(__always)
  static func takeGuestTaskPriority(_ vmcb: VMCB, _ apic: LocalAPICModel) {
    let guestClass = SVMVirtualInterrupt.taskPriorityClass(vmcb.u64(VMCBOffset.virtualInterrupt))
    if guestClass != apic.taskPriorityClass { apic.setTaskPriorityClass(guestClass) }
  }

  /// #DB (exception intercept bit 1) exits only while the IRET that ends an NMI handler is
  /// single-stepped (NMIBlocking.startStepOverIRET).
  static func interceptDebugExceptions(_ vmcb: VMCB, _ on: Bool) {
    let exceptions = vmcb[VMCBOffset.interceptExceptions, as: UInt32.self]
    vmcb[VMCBOffset.interceptExceptions, as: UInt32.self] =
      on ? exceptions | 1 << 1 : exceptions & ~(1 << 1)
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] &= ~1  // clean bit 0: intercepts
  }

  /// The single-step trap after the IRET (the #DB intercept): the step ends, the trap is
  /// the hypervisor's and is not delivered (DR6.BS, bit 14, which it set, is cleared), and
  /// the next entry finds NMI blocking over and injects the held NMI. TF is the guest's
  /// again: the IRET loaded RFLAGS from its stack. True if the exit was that trap.
  @inline(never)
  static func endStepOverIRET(_ vmcb: VMCB, vcpu: VirtualCPU) -> Bool {
    let overShadow = vcpu.nmiBlocking.steppingOverShadow
    guard vmcb.u64(VMCBOffset.exitCode) == SVMExitCode.exceptionBase + 1,
      vcpu.nmiBlocking.debugTrapEndsStep()
    else { return false }
    // After a shadow's instruction TF is still the hypervisor's: no IRET reloaded RFLAGS.
    if overShadow { vcpu.registers.rflags &= ~trapFlag }
    interceptDebugExceptions(vmcb, false)
    vmcb.set(VMCBOffset.dr6, vmcb.u64(VMCBOffset.dr6) & ~(1 << 14))
    return true
  }

  /// The VMCB's view of the guest for a stop report.
  static func dump(_ guest: SVMGuest, vcpu: VirtualCPU) {
    let vmcb = VMCB(base: IdentityMappedMemory().pointer(to: guest.vmcbs[vcpu.index]))
    let code = vmcb.u64(VMCBOffset.exitCode)
    VMReport.field("exit code", code)
    Console.write("    (")
    Console.write(SVMExitCode.name(code))
    Console.write(")\n")
    VMReport.field("exitinfo1", vmcb.u64(VMCBOffset.exitInfo1))
    VMReport.field("exitinfo2", vmcb.u64(VMCBOffset.exitInfo2))
    VMReport.field("cr0", vmcb.u64(VMCBOffset.cr0))
    VMReport.field("cr3", vmcb.u64(VMCBOffset.cr3))
    VMReport.field("cr4", vmcb.u64(VMCBOffset.cr4))
    VMReport.field("efer", vmcb.u64(VMCBOffset.efer))
    // EFER.LME the guest set with paging off, which the VMCB does not hold (SVMGuestState).
    if vcpu.deferredEFER != 0 { VMReport.field("efer deferred", vcpu.deferredEFER) }
    VMReport.field("cs.sel", UInt64(vmcb[VMCBOffset.cs, as: UInt16.self]))
    VMReport.field("cs.base", vmcb.segmentBase(VMCBOffset.cs))
    VMReport.field("cs.attr", UInt64(vmcb.segmentAttributes(VMCBOffset.cs)))
    VMReport.field("cpl", UInt64(vmcb[VMCBOffset.cpl, as: UInt8.self]))
  }
}

/// How a vCPU's turn on the processor ended.
enum SliceResult {
  case preempted
  case halted
  case stopped(StopReason)
}
