/// The one dispatcher: every vendor's decoded exit comes here and goes to the handler
/// written once for both. Generic over the backend's guest-state access, so each backend
/// gets its own specialized copy with no dynamic dispatch on the exit path.
public enum ExitDispatcher {
  @inline(__always)
  public static func dispatch<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest,
    console: any ConsoleSink
  ) -> ExitOutcome {
    route(exit, vcpu: vcpu, vm: vm, guest: &guest, console: console)
  }

  /// For an instruction exit without a length from the hardware (SVM without NRIPS): the
  /// bytes at RIP must be an instruction of `kind` before any handler acts on them. If they
  /// are not, the guest runs other bytes than its page tables show (a stale TLB): it
  /// executes the instruction again, with no effect and no progress (the exit-storm detector
  /// sees a loop); the outcome says so. Otherwise InstructionCompletion uses the checked
  /// length, and nil lets the handler run. `kind` is a constant in each arm of `route`, so
  /// the common case folds to a couple of compares.
  @inline(__always)
  static func verify<Guest: GuestStateAccess>(
    _ kind: ExitingInstruction.Kind, _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: Guest
  ) -> ExitOutcome? {
    guard exit.instructionLength == nil else { return nil }
    switch InstructionCompletion.check(kind, vcpu: vcpu, vm: vm, guest: guest) {
    case .length(let length):
      vcpu.checkedInstructionLength = length
      return nil
    case .mismatch:
      vcpu.statistics.decodeMismatches &+= 1
      return .resume
    case .unreadable:
      return .stop(.instructionFetchFailed(rip: vcpu.registers.rip))
    }
  }

  /// The handler for the exit's reason.
  @inline(__always)
  static func route<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest,
    console: any ConsoleSink
  ) -> ExitOutcome {
    switch exit.reason {
    case .cpuid:
      if let early = verify(.cpuid, exit, vcpu: vcpu, vm: vm, guest: guest) { return early }
      return CPUIDHandler.handle(exit, vcpu: vcpu, vm: vm, guest: guest)
    case .portIO(let access):
      vm.lockDevices()
      defer { vm.unlockDevices() }
      return PortIOHandler.handle(access, exit, vcpu: vcpu, vm: vm, guest: &guest)
    case .hypercall:
      if let early = verify(.hypercall, exit, vcpu: vcpu, vm: vm, guest: guest) { return early }
      return HypercallHandler.handle(exit, vcpu: vcpu, vm: vm, guest: &guest, console: console)
    case .msrRead:
      if let early = verify(.msrRead, exit, vcpu: vcpu, vm: vm, guest: guest) { return early }
      return MSRHandler.read(exit, vcpu: vcpu, vm: vm, guest: &guest)
    case .msrWrite:
      if let early = verify(.msrWrite, exit, vcpu: vcpu, vm: vm, guest: guest) { return early }
      return MSRHandler.write(exit, vcpu: vcpu, vm: vm, guest: &guest)
    case .nestedPageFault(let fault):
      vm.lockDevices()
      defer { vm.unlockDevices() }
      return NestedPageFaultHandler.handle(fault, exit, vcpu: vcpu, vm: vm, guest: &guest)
    case .halt:
      if let early = verify(.halt, exit, vcpu: vcpu, vm: vm, guest: guest) { return early }
      return HaltHandler.handle(exit, vcpu: vcpu, vm: vm, guest: &guest)
    case .pause:
      if let early = verify(.pause, exit, vcpu: vcpu, vm: vm, guest: guest) { return early }
      let completed = InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
      return completed == .resume ? .yield : completed
    case .externalInterrupt, .nmi, .interruptWindow, .preemptionTimer:
      // The host took the interrupt (or the time slice ended) on the way out: just go back.
      return .resume
    case .exception(18, _):
      // A machine check is the hardware failing under this guest, not the guest's own
      // exception (both backends intercept #MC): stop the VM and report it.
      return .stop(.unexpectedExit(vendorCode: 18))
    case .exception(let vector, let errorCode):
      // An intercepted exception is the guest's own: deliver it as the hardware would have.
      vcpu.pendingEvent = .exception(vector: vector, errorCode: errorCode)
      return .resume
    case .invalidateCaches:
      // WBINVD/INVD: guests own no non-coherent DMA here, so there is nothing to flush.
      if let early = verify(.invalidateCaches, exit, vcpu: vcpu, vm: vm, guest: guest) {
        return early
      }
      return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
    case .xsetbv:
      // XSAVE is not offered in CPUID, so XSETBV is undefined for the guest.
      if let early = verify(.xsetbv, exit, vcpu: vcpu, vm: vm, guest: guest) { return early }
      vcpu.pendingEvent = .invalidOpcode
      return .resume
    case .shutdown:
      return .stop(.shutdown)
    case .entryFailure(let code):
      return .stop(.entryFailure(code: code))
    case .unknown(let code):
      return .stop(.unexpectedExit(vendorCode: code))
    case .controlRegisterAccess(let access):
      if let early = verify(.controlRegister, exit, vcpu: vcpu, vm: vm, guest: guest) {
        return early
      }
      return ControlRegisterHandler.handle(access, exit, vcpu: vcpu, vm: vm, guest: &guest)
    case .initSignal, .startupIPI:
      return .stop(.unexpectedExit(vendorCode: UInt64(exit.reason.kind.rawValue)))
    }
  }
}
