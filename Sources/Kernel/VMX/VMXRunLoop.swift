import CArch
import HypervisorCore
import Memory
import VMX

/// Runs one vCPU under VMX until its time slice ends, it halts, or its VM stops: the same
/// shape as the SVM loop, with the VMCS in place of the VMCB.
enum VMXRunLoop {
  static let lma: UInt64 = 1 << 10

  static func run(
    _ guest: VMXGuest, vcpu: VirtualCPU, processor: VMXProcessor, cpu: PhysicalCPU,
    console: HypervisorConsole
  ) -> SliceResult {
    guard guest.load(vcpu: vcpu.index, on: cpu) else { return .stopped(.entryFailure(code: 0)) }
    if vcpu.startupState != nil {
      guest.loadStartupState(vcpu, capabilities: processor.capabilities)
    }
    loadSyscallMSRs(guest, vcpu: vcpu)
    defer { saveSyscallMSRs(guest, vcpu: vcpu) }
    // TSC_AUX and PKRU: the guest's for the slice, neither in the VMCS.
    GuestAuxiliaryRegisters.load(vcpu, vm: guest.vm)
    defer { GuestAuxiliaryRegisters.save(vcpu, vm: guest.vm) }
    let registers = vcpu.registerFile.assumingMemoryBound(to: GuestRegisters.self)
    let vm = guest.vm
    var state = VMCSGuestState(capabilities: processor.capabilities)
    interceptPause(cpu.interceptsPause, capabilities: processor.capabilities)
    // The world switch's fast path (ExitFastPath): CPUID only, and only without a local
    // APIC model (its interrupt windows are decided before each entry). Its deadline is the
    // preemption timer's, written below, since VMRESUME restarts the timer from its field.
    let fast = ExitFastPath.block(guest.fastPaths[vcpu.index])
    ExitFastPath.prepare(fast, vcpu: vcpu, vm: vm)
    // Off for a traced VM too: its every exit must reach the recorder.
    fast.pointee.enabled = vcpu.localAPIC == nil && vm.exitTrace == nil ? 1 : 0
    fast.pointee.deadline = UInt64.max
    var outside = OutsideGuestClock(cpu)
    defer { outside.leaving(cpu, vcpu.statistics) }
    while true {
      if vcpu.hasRequests,
        let ended = handleRequests(guest, vcpu: vcpu, capabilities: processor.capabilities)
      {
        return ended
      }
      if vcpu.localAPIC != nil {
        deliverInterrupts(vcpu: vcpu, vm: vm, rflags: registers.pointee.rflags)
      }
      if vcpu.pendingEvent != nil { injectPendingEvent(vcpu) }
      VMCS.write(.guestRSP, registers.pointee.rsp)
      VMCS.write(.guestRIP, registers.pointee.rip)
      VMCS.write(.guestRFLAGS, registers.pointee.rflags)
      // "IA-32e mode guest" must match the guest's EFER.LMA at every entry (SDM 3C §27.3.1.1).
      let entry = VMCS.read(.entryControls)
      let ia32e = UInt64(EntryControl.ia32eModeGuest.rawValue)
      let wanted = VMCS.read(.guestEFER) & lma != 0 ? entry | ia32e : entry & ~ia32e
      if wanted != entry { VMCS.write(.entryControls, wanted) }

      if guest.preemptionTimer {
        // The VMX-preemption timer counts TSC >> rate (SDM 3C §26.5.1): the rest of the slice.
        let now = arch_rdtsc()
        let due = min(cpu.timer.sliceDeadline, vcpu.localAPIC?.deadline ?? UInt64.max)
        let remaining = due > now ? due - now : 0
        fast.pointee.deadline = due
        VMCS.write(
          .preemptionTimerValue,
          min(remaining >> processor.capabilities.preemptionTimerRate, 0xFFFF_FFFF))
      }
      outside.entering()
      let failed =
        vmx_world_switch(vcpu.registerFile, guest.launched[vcpu.index] ? 1 : 0, fast) != 0
      if failed {
        return .stopped(.entryFailure(code: VMCS.read(.instructionError)))
      }
      if !guest.launched[vcpu.index] { guest.launched[vcpu.index] = true }
      let exitTime = arch_rdtsc()
      outside.exited(at: exitTime)
      if fast.pointee.served != 0 { ExitFastPath.countServed(fast, vcpu: vcpu) }
      registers.pointee.rsp = VMCS.read(.guestRSP)
      registers.pointee.rip = VMCS.read(.guestRIP)
      registers.pointee.rflags = VMCS.read(.guestRFLAGS)
      VMCS.write(.entryInterruptionInformation, 0)
      let vectoring = VMCS.read(.idtVectoringInformation)
      if vectoring & (1 << 31) != 0 { reinjectInterruptedEvent(vectoring) }
      // An EOI the guest made through its paravirtual flag.
      if vcpu.paravirtualEOI.flagSet, let apic = vcpu.localAPIC {
        vcpu.paravirtualEOI.afterExit(apic, statistics: vcpu.statistics)
      }

      let info = VMXExitInformation(
        reason: UInt32(truncatingIfNeeded: VMCS.read(.exitReason)),
        qualification: VMCS.read(.exitQualification),
        instructionLength: UInt32(truncatingIfNeeded: VMCS.read(.exitInstructionLength)),
        interruptionInfo: UInt32(truncatingIfNeeded: VMCS.read(.exitInterruptionInformation)),
        interruptionErrorCode: UInt32(truncatingIfNeeded: VMCS.read(.exitInterruptionErrorCode)),
        guestLinearAddress: VMCS.read(.guestLinearAddress),
        guestPhysicalAddress: VMCS.read(.guestPhysicalAddress),
        idtVectoringInfo: UInt32(truncatingIfNeeded: vectoring))
      let exit = VMXExitDecoder.decode(info)
      if case .nestedPageFault(let fault) = exit.reason, fault.access == .write,
        DirtyLogFaults.serve(fault.guestPhysical, vm: vm, format: ExtendedPageTableFormat.self)
      {
        // An IRET that unblocked NMIs and then faulted: blocking by NMI is set again before
        // the retry (SDM 3C §28.2.3, "NMI unblocking due to IRET", qualification bit 12).
        if info.qualification & (1 << 12) != 0 && vectoring & (1 << 31) == 0 {
          VMCS.write(.guestInterruptibility, VMCS.read(.guestInterruptibility) | (1 << 3))
        }
        vcpu.statistics.record(.dirtyLog, cycles: arch_rdtsc() &- exitTime)
        if cpu.timer.isOver(at: exitTime) { return .preempted }
        continue
      }
      if case .externalInterrupt = exit.reason {
        // "Acknowledge interrupt on exit": the vector arrived with the exit; the host's
        // handler for it runs here instead of through the IDT.
        InterruptRouting.handle(vector: UInt8(truncatingIfNeeded: info.interruptionInfo))
      }
      let exitRIP = registers.pointee.rip
      // A traced VM (trace=N) goes through its recorder, out of line: one test otherwise.
      let outcome =
        vm.exitTrace == nil
        ? ExitDispatcher.dispatch(exit, vcpu: vcpu, vm: vm, guest: &state, console: console)
        : tracedDispatch(exit, vcpu: vcpu, vm: vm, guest: &state, console: console)
      if case .halt = exit.reason {
        endShadowAfterHLT(exitRIP: exitRIP, rip: registers.pointee.rip)
      }
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
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout VMCSGuestState,
    console: HypervisorConsole
  ) -> ExitOutcome {
    vm.exitTrace!.dispatch(exit, vcpu: vcpu, vm: vm, guest: &guest, console: console)
  }

  /// PAUSE exiting only while another vCPU waits for this core (SDM 3C §25.6.2), where the
  /// processor allows the control (its allowed-1 bit, §A.3.2).
  static func interceptPause(_ shared: Bool, capabilities: VMXCapabilities) {
    let bit = UInt64(PrimaryProcessorControl.pauseExiting.rawValue)
    guard capabilities.trueProcBased >> 32 & bit != 0 || capabilities.procBased >> 32 & bit != 0
    else { return }
    let controls = VMCS.read(.primaryProcessorControls)
    let wanted = shared ? controls | bit : controls & ~bit
    if wanted != controls { VMCS.write(.primaryProcessorControls, wanted) }
  }

  /// Requests other CPUs posted (RequestDrain), before the entry: a TLB flush of the VM's
  /// guest-physical translations is an INVEPT here. Out of line: rare.
  @inline(never)
  static func handleRequests(
    _ guest: VMXGuest, vcpu: VirtualCPU, capabilities: VMXCapabilities
  ) -> SliceResult? {
    let ended = RequestDrain.beforeEntry(vcpu, vm: guest.vm)
    if vcpu.startupState != nil { guest.loadStartupState(vcpu, capabilities: capabilities) }
    if vcpu.auxiliaryRegistersStale { GuestAuxiliaryRegisters.load(vcpu, vm: guest.vm) }
    if vcpu.tlbFlushPending {
      vcpu.tlbFlushPending = false
      guest.flushTranslations()
    }
    return ended
  }

  /// Local APIC interrupts (InterruptDelivery): injected when the guest can take one;
  /// otherwise interrupt-window exiting makes the processor exit as soon as RFLAGS.IF is set
  /// and no STI or MOV SS blocking remains (SDM 3C §26.7.5). NMIs: with "virtual NMIs" the
  /// processor blocks NMIs from an injected NMI until the guest's IRET (interruptibility
  /// bit 3, SDM 3C §25.4.2); one that waits for that IRET sets NMI-window exiting
  /// (§26.7.6). An NMI is injected only with no STI, MOV SS or NMI blocking (entry checks,
  /// §27.3.1.5).
  @inline(never)
  static func deliverInterrupts(vcpu: VirtualCPU, vm: VirtualMachine, rflags: UInt64) {
    let interruptibility = VMCS.read(.guestInterruptibility)
    let entryEvent = VMCS.read(.entryInterruptionInformation)
    let injecting = entryEvent & UInt64(VMXEventInjection.valid) != 0
    // An NMI being re-injected (its delivery was interrupted, type 2 in bits 10:8, §25.8.3)
    // blocks further NMIs as one being handled does: only one more is held.
    let nmiBlocked = interruptibility & 8 != 0 || (injecting && (entryEvent >> 8) & 7 == 2)
    let nmi = InterruptDelivery.prepareNMI(
      vcpu, vm: vm, guestCanTakeNMI: interruptibility & 0b1011 == 0 && !injecting,
      nmiBlocked: nmiBlocked)
    let canTake = rflags & (1 << 9) != 0 && interruptibility & 3 == 0 && !injecting
    let decision = InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: canTake)
    // After an injection, whose vector is in service already: nothing offered.
    if let apic = vcpu.localAPIC {
      vcpu.paravirtualEOI.beforeEntry(apic, offered: nil, memory: vm.memory)
    }
    let window = UInt64(PrimaryProcessorControl.interruptWindowExiting.rawValue)
    let nmiWindow = UInt64(PrimaryProcessorControl.nmiWindowExiting.rawValue)
    let controls = VMCS.read(.primaryProcessorControls)
    var wanted = decision == .needsWindow ? controls | window : controls & ~window
    // Only NMI blocking waits for the window: a shadow or an event being injected ends at
    // the next exit, and an NMI-window exit may come while STI blocking remains (§26.7.6).
    // NMI-window exiting needs "virtual NMIs" (SDM 3C §27.2.1.1).
    let waitsForIRET =
      nmi == .needsWindow && interruptibility & 8 != 0
      && VMCS.read(.pinBasedControls) & UInt64(PinBasedControl.virtualNMIs.rawValue) != 0
    wanted = waitsForIRET ? wanted | nmiWindow : wanted & ~nmiWindow
    if wanted != controls { VMCS.write(.primaryProcessorControls, wanted) }
  }

  /// VM-entry interruption information (SDM 3C §25.8.3) for the vendor-neutral event.
  static func inject(_ event: PendingEvent) {
    let encoded: UInt32
    switch event.delivered(protectedMode: VMCS.read(.guestCR0) & 1 != 0) {
    case .exception(let vector, let errorCode):
      encoded = VMXEventInjection.encode(
        vector: vector, type: .hardwareException, errorCode: errorCode)
      if let errorCode { VMCS.write(.entryExceptionErrorCode, UInt64(errorCode)) }
    case .externalInterrupt(let vector):
      encoded = VMXEventInjection.encode(vector: vector, type: .externalInterrupt, errorCode: nil)
    case .nmi:
      encoded = VMXEventInjection.encode(vector: 2, type: .nmi, errorCode: nil)
    }
    VMCS.write(.entryInterruptionInformation, UInt64(encoded))
  }

  /// The vCPU's pending event, unless the entry already carries one (a re-injection). Out
  /// of line, with the re-injection: the loop stays small enough for the compiler to inline
  /// the decoder and the dispatcher into it (docs/exit-path.md).
  @inline(never)
  static func injectPendingEvent(_ vcpu: VirtualCPU) {
    guard let event = vcpu.pendingEvent,
      VMCS.read(.entryInterruptionInformation) & UInt64(VMXEventInjection.valid) == 0
    else { return }
    inject(event)
    vcpu.registers.rflags = event.enteringFlags(vcpu.registers.rflags)  // RF for a fault
    vcpu.pendingEvent = nil
    vcpu.statistics.injectedEvents &+= 1
  }

  /// `STI; HLT`: the HLT exit saves blocking by STI (the HLT was in STI's shadow; SDM 3C
  /// §28.3.4, bits 0-1 of the interruptibility state, Table 25-3). Once the hypervisor has
  /// completed the HLT the shadow is over (it covers one instruction: SDM 2B, STI), so the
  /// bits must go, or the wake-up interrupt is held back past the next instruction: after
  /// `STI; HLT; CLI` it would never be taken. Only on HLT: the instruction a guest waits
  /// with, and not a hot exit.
  @inline(never)
  static func endShadowAfterHLT(exitRIP: UInt64, rip: UInt64) {
    guard rip != exitRIP else { return }
    let interruptibility = VMCS.read(.guestInterruptibility)
    if interruptibility & 0b11 != 0 {
      VMCS.write(.guestInterruptibility, interruptibility & ~0b11)  // STI, MOV SS blocking
    }
  }

  /// An event whose delivery the exit interrupted (valid IDT-vectoring information
  /// `vectoring`) is delivered again (SDM 3C §28.2.4).
  @inline(never)
  static func reinjectInterruptedEvent(_ vectoring: UInt64) {
    let entry = VMXEventInjection.reinjection(
      vectoring: UInt32(truncatingIfNeeded: vectoring),
      protectedMode: VMCS.read(.guestCR0) & 1 != 0)
    VMCS.write(.entryInterruptionInformation, UInt64(entry))
    if entry & VMXEventInjection.deliverErrorCode != 0 {
      VMCS.write(.entryExceptionErrorCode, VMCS.read(.idtVectoringErrorCode))
    }
    let type = (vectoring >> 8) & 7
    if type == 4 || type == 5 || type == 6 {
      VMCS.write(.entryInstructionLength, VMCS.read(.exitInstructionLength))
    }
  }

  static func loadSyscallMSRs(_ guest: VMXGuest, vcpu: VirtualCPU) {
    for (slot, index) in VMXGuest.syscallMSRIndices.enumerated() {
      arch_wrmsr(index, guest.syscallMSRs[vcpu.index][slot])
    }
  }

  static func saveSyscallMSRs(_ guest: VMXGuest, vcpu: VirtualCPU) {
    for (slot, index) in VMXGuest.syscallMSRIndices.enumerated() {
      guest.syscallMSRs[vcpu.index][slot] = arch_rdmsr(index)
    }
  }

  /// The VMCS's view of the guest for a stop report: exit information, the VM-instruction
  /// error in words, and the guest-state fields VM-entry checks look at.
  static func dump(_ guest: VMXGuest, vcpu: VirtualCPU, cpu: PhysicalCPU) {
    guard guest.load(vcpu: vcpu.index, on: cpu) else { return }
    let reason = VMCS.read(.exitReason)
    VMReport.field("exit reason", reason)
    Console.write("    (")
    if reason & (1 << 31) != 0 {
      Console.write(VMXDiagnostics.describeEntryFailure(reason: UInt32(truncatingIfNeeded: reason)))
    } else {
      Console.write(VMXDiagnostics.name(ofBasicReason: UInt16(truncatingIfNeeded: reason)))
    }
    Console.write(")\n")
    let error = VMCS.read(.instructionError)
    if error != 0 {
      VMReport.field("vm-instruction error", error)
      Console.write("    (")
      Console.write(VMXDiagnostics.describeInstructionError(UInt32(truncatingIfNeeded: error)))
      Console.write(")\n")
    }
    VMReport.field("qualification", VMCS.read(.exitQualification))
    VMReport.field("guest-physical", VMCS.read(.guestPhysicalAddress))
    VMReport.field("guest-linear", VMCS.read(.guestLinearAddress))
    VMReport.field("cr0", VMCS.read(.guestCR0))
    VMReport.field("cr3", VMCS.read(.guestCR3))
    VMReport.field("cr4", VMCS.read(.guestCR4))
    VMReport.field("efer", VMCS.read(.guestEFER))
    VMReport.field("cs.sel", VMCS.read(.guestCSSelector))
    VMReport.field("cs.base", VMCS.read(.guestCSBase))
    VMReport.field("cs.ar", VMCS.read(.guestCSAccessRights))
    VMReport.field("ss.ar", VMCS.read(.guestSSAccessRights))
    VMReport.field("tr.ar", VMCS.read(.guestTRAccessRights))
    VMReport.field("ldtr.ar", VMCS.read(.guestLDTRAccessRights))
    VMReport.field("interruptibility", VMCS.read(.guestInterruptibility))
    VMReport.field("activity", VMCS.read(.guestActivityState))
    VMReport.field("entry controls", VMCS.read(.entryControls))
  }
}
