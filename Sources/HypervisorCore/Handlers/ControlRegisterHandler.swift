import Memory

/// MOV to/from CR0, CR3, CR4, CLTS and LMSW, when they exit: on VMX, a write that touches a
/// bit the host owns (the CR0/CR4 guest/host masks own every bit the guest may not set
/// freely); on SVM, every write to CR0 and CR4 (write intercepts). MOV CR8 (VMX: every
/// one exits) goes to the local APIC's TPR (ControlRegisterHandler+CR8). A value the VM's
/// `ControlRegisterRules` refuse gets #GP(0), as the processor would raise it; otherwise
/// the backend applies it (on VMX with its fixed bits, the guest's view in the read shadow).
public enum ControlRegisterHandler {
  /// `ControlRegisterAccess.generalRegister` when the exit did not say (SVM without
  /// decode assists): the handler decodes the instruction.
  public static let unknownRegister: UInt8 = 0xFF

  public static func handle<Guest: GuestStateAccess>(
    _ access: ControlRegisterAccess, _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: inout Guest
  ) -> ExitOutcome {
    let number = access.register
    guard number == 0 || number == 3 || number == 4 || number == 8 else {
      return .stop(.unexpectedExit(vendorCode: UInt64(number)))
    }
    var access = access
    var exit = exit
    if access.kind == .write && access.generalRegister == unknownRegister {
      // SVM without decode assists names no register (APM §15.8.1): read the instruction.
      let mode = guest.mode()
      guard
        let bytes = InstructionFetcher.fetch(rip: vcpu.registers.rip, mode: mode, memory: vm.memory)
      else { return .stop(.instructionFetchFailed(rip: vcpu.registers.rip)) }
      if number == 0, MoveToControlRegister.decode(bytes, width: mode.width) == nil,
        let lmsw = LoadMachineStatusWordOperand.decode(bytes, width: mode.width)
      {
        return loadMachineStatusWord(
          from: lmsw.operand, length: lmsw.length, exit: exit, mode: mode, vcpu: vcpu, vm: vm,
          guest: &guest)
      }
      guard let write = MoveToControlRegister.decode(bytes, width: mode.width),
        write.controlRegister == number
      else { return .stop(.unexpectedExit(vendorCode: 0x1C)) }
      exit.instructionLength = write.length
      access.generalRegister = write.generalRegister
      switch write.form {
      case .move: break
      case .loadMachineStatusWord:
        let source = UInt16(truncatingIfNeeded: vcpu.registers[Int(write.generalRegister)])
        access.kind = .lmsw(sourceData: source)
      case .clearTaskSwitched:
        access.kind = .clts
      }
    }
    if number == 8 { return taskPriority(access, exit, vcpu: vcpu, vm: vm, guest: guest) }
    switch access.kind {
    case .read:
      vcpu.registers[Int(access.generalRegister)] = guest.readControlRegister(number)
    case .write:
      let source = access.generalRegister
      guard source < 16 else { return .stop(.unexpectedExit(vendorCode: 0x1C)) }
      let mode = guest.mode()
      var value = vcpu.registers[Int(source)]
      // Outside 64-bit mode the source operand is 32 bits (SDM 2B MOV CR).
      if mode.width != .long64 { value &= 0xFFFF_FFFF }
      guard number == 3 || permits(value, number, mode: mode, vm: vm, guest: guest) else {
        vcpu.pendingEvent = .generalProtection(0)
        return .resume
      }
      // Checked before anything changes: a bad PDPTE makes the whole MOV #GP(0).
      let pae = paeLoad(number, value, vm: vm, guest: guest)
      guard pae != .generalProtection, guest.writeControlRegister(number, value) else {
        vcpu.pendingEvent = .generalProtection(0)
        return .resume
      }
      if case .load(let pointers) = pae { guest.loadPAEPointers(pointers) }
    case .clts:
      _ = guest.writeControlRegister(0, guest.readControlRegister(0) & ~(1 << 3))
    case .lmsw(let source):
      // LMSW loads CR0 bits 3:0 but can set PE, never clear it (SDM 2A LMSW).
      let old = guest.readControlRegister(0)
      let value = old & ~0xE | UInt64(source) & 0xF
      _ = guest.writeControlRegister(0, value)
    }
    return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
  }
}

extension ControlRegisterHandler {
  /// LMSW m16: reads the word from guest RAM through the guest's tables (a refused read is
  /// the guest's #PF, nothing changed) and loads CR0 bits 3:0, PE never cleared (SDM Vol 2
  /// LMSW). A word outside RAM (MMIO) is not emulated: the VM stops as before.
  static func loadMachineStatusWord<Guest: GuestStateAccess>(
    from operand: MemoryOperand, length: UInt8, exit: VMExit, mode: GuestMode,
    vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest
  ) -> ExitOutcome {
    let linear = operand.linearAddress(
      registers: vcpu.registers, nextRIP: vcpu.registers.rip &+ UInt64(length), mode: mode)
    if LinearAccessCheck.faults(
      linear, write: false, vcpu: vcpu, mode: mode, memory: vm.memory, guest: &guest)
      || ((linear & 0xFFF) == 0xFFF
        && LinearAccessCheck.faults(
          linear &+ 1, write: false, vcpu: vcpu, mode: mode, memory: vm.memory, guest: &guest))
    {
      return .resume
    }
    var word: UInt64 = 0
    for index in 0..<UInt64(2) {
      guard
        let physical = InstructionFetcher.translateWithRights(
          linear &+ index, mode: mode, memory: vm.memory)?.physical,
        vm.mmio.entry(for: physical) == nil, vcpu.localDevices.entry(for: physical) == nil,
        let byte = vm.memory.pointer(to: physical, length: 1)
      else { return .stop(.unexpectedExit(vendorCode: 0x1C)) }
      word |= UInt64(byte.load(as: UInt8.self)) << (index * 8)
    }
    let old = guest.readControlRegister(0)
    _ = guest.writeControlRegister(0, old & ~0xE | word & 0xF)
    var exit = exit
    exit.instructionLength = length
    return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
  }

  /// The VM's rules for CR0 and CR4, against the guest's own view of both registers
  /// (the read shadows on VMX) and of EFER (on SVM, LME with paging off is not in the VMCB).
  static func permits<Guest: GuestStateAccess>(
    _ value: UInt64, _ number: UInt8, mode: GuestMode, vm: VirtualMachine, guest: Guest
  ) -> Bool {
    var state = mode
    state.cr0 = guest.readControlRegister(0)
    state.cr4 = guest.readControlRegister(4)
    state.efer = guest.readStateMSR(MSRPolicy.efer) ?? mode.efer
    let rules = vm.controlRegisterRules
    return number == 0
      ? rules.permitsCR0(value, state: state) : rules.permitsCR4(value, state: state)
  }
}
