import HypervisorCore

/// What the console says when a VM ends: why, its registers and vendor state when it was
/// stopped by the hypervisor, and its exit statistics.
enum VMReport {
  static func field(_ name: StaticString, _ value: UInt64) {
    Console.write(field: name, value, indent: 4)
  }

  static func vmLabel(_ vm: VirtualMachine) {
    Console.write("vm ")
    Console.write(bytes: vm.name)
  }

  static func describe(_ reason: StopReason) {
    switch reason {
    case .guestRequested(let code):
      Console.write("stopped by the guest, exit code ")
      Console.write(decimal: code)
    case .debugExit(let value):
      Console.write("stopped by the guest, exit code ")
      Console.write(decimal: value)
      Console.write(" (debug-exit status ")
      Console.write(decimal: value << 1 | 1)
      Console.write(")")
    case .poweredOff:
      Console.write("powered off by the guest (ACPI S5)")
    case .reset:
      Console.write("reset by the guest: stopped (guests are not restarted)")
    case .haltedWithInterruptsDisabled:
      Console.write("halted with interrupts disabled on every vCPU: stopped for good")
    case .haltedWithoutInterruptSource:
      Console.write("halted waiting for an interrupt, but no device can raise one: stopped")
    case .shutdown:
      Console.write("shutdown (triple fault)")
    case .unmappedAccess(let address, let access, let beyond):
      Console.write(
        access == .write ? "write to " : (access == .read ? "read of " : "instruction fetch from "))
      Console.write("guest-physical ")
      Console.write(hex: address)
      Console.write(
        beyond ? ", outside its memory and every device" : ", where no device is mapped")
    case .unsupportedMMIOInstruction(let address, let opcode):
      Console.write("MMIO at ")
      Console.write(hex: address)
      Console.write(" by an instruction the hypervisor does not emulate (opcode ")
      Console.write(hex: UInt64(opcode))
      Console.write(")")
    case .eventDeliveryFailed(let vector, let address):
      Console.write("the processor could not deliver vector ")
      Console.write(decimal: UInt64(vector))
      Console.write(
        ": its descriptor table or stack lies in MMIO or unmapped memory (guest-physical ")
      Console.write(hex: address)
      Console.write(")")
    case .stringIOOperandNotRAM(let port, let linear):
      Console.write("INS/OUTS on port ")
      Console.write(hex: UInt64(port))
      Console.write(" with its memory operand at guest-linear ")
      Console.write(hex: linear)
      Console.write(", which is not guest RAM (MMIO or unmapped)")
    case .instructionFetchFailed(let rip):
      Console.write("could not read the instruction at RIP ")
      Console.write(hex: rip)
    case .unexpectedExit(let code):
      Console.write("unexpected exit, vendor code ")
      Console.write(hex: code)
    case .entryFailure(let code):
      Console.write("VM entry failed, code ")
      Console.write(hex: code)
    case .exitStorm(let exits):
      Console.write("exit storm: ")
      Console.write(decimal: exits)
      Console.write(" exits in a row at one instruction without completing it")
    case .operatorRequest:
      Console.write("stopped by the operator")
    }
  }

  /// Stops by the guest's own request are routine; anything else gets the state dump.
  static func isFault(_ reason: StopReason) -> Bool {
    switch reason {
    case .guestRequested, .debugExit, .poweredOff, .haltedWithInterruptsDisabled, .operatorRequest:
      return false
    default: return true
    }
  }

  static func registers(_ vcpu: VirtualCPU) {
    let r = vcpu.registers
    field("rip", r.rip)
    field("rflags", r.rflags)
    field("rsp", r.rsp)
    field("rax", r.rax)
    field("rbx", r.rbx)
    field("rcx", r.rcx)
    field("rdx", r.rdx)
    field("rsi", r.rsi)
    field("rdi", r.rdi)
    field("rbp", r.rbp)
    field("r8", r.r8)
    field("r9", r.r9)
    field("r10", r.r10)
    field("r11", r.r11)
    field("r12", r.r12)
    field("r13", r.r13)
    field("r14", r.r14)
    field("r15", r.r15)
  }

  /// The memory the VM held beyond its RAM, in KiB: all of it (counted when it was built)
  /// and the nested page tables' share now (MMIO mappings may have added tables since).
  /// vCPUs run on their host CPU's stack: no per-VM stacks.
  static func footprint(_ vm: VirtualMachine, tableFrames: Int) {
    Console.write("  memory: guest RAM ")
    Console.write(decimal: vm.profile.memorySize >> 10)
    Console.write(" KiB; beyond it ")
    Console.write(decimal: UInt64(vm.framesBeyondRAM) * 4)
    Console.write(" KiB at creation, nested page tables ")
    Console.write(decimal: UInt64(tableFrames) * 4)
    Console.write(" KiB now\n")
  }

  /// "    <label><value>" on a line of its own, when the value is not zero.
  static func count(_ label: StaticString, _ value: UInt64) {
    guard value > 0 else { return }
    Console.write("    ")
    Console.write(label)
    Console.write(decimal: value)
    Console.write("\n")
  }

  static func statistics(_ statistics: ExitStatistics) {
    Console.write("  exits: ")
    Console.write(decimal: statistics.totalExits)
    Console.write(" in ")
    Console.write(decimal: statistics.totalCycles)
    Console.write(" cycles\n")
    if statistics.outsideGuestCycles > 0 {
      // Per slow exit: fast-path exits take no time outside the world switch.
      let slow = statistics.totalExits &- statistics.fastExits
      Console.write("  time outside the guest: ")
      Console.write(decimal: statistics.outsideGuestCycles)
      Console.write(" cycles, ")
      Console.write(decimal: slow > 0 ? statistics.outsideGuestCycles / slow : 0)
      Console.write(" per slow exit (")
      Console.write(decimal: statistics.totalCycles)
      Console.write(" in the exits' handlers, ")
      Console.write(decimal: statistics.hostInterruptCycles)
      Console.write(" in host interrupt handlers, the rest entry preparation and delivery)\n")
    }
    for kind in ExitKind.allCases where statistics.count(kind) > 0 {
      let count = statistics.count(kind)
      let cycles = statistics.cycles(kind)
      Console.write("    ")
      Console.write(kind.name)
      Console.write(": ")
      Console.write(decimal: count)
      // Exits the world switch served take no cycles here: "per exit" is per slow exit.
      let fast = statistics.fastCount(kind)
      if fast > 0 {
        Console.write(" exits (")
        Console.write(decimal: fast)
        Console.write(" in the fast path), ")
      } else {
        Console.write(" exits, ")
      }
      Console.write(decimal: cycles)
      Console.write(" cycles, ")
      Console.write(decimal: count > fast ? cycles / (count - fast) : 0)
      Console.write(" per exit\n")
    }
    if statistics.unhandledPortReads + statistics.unhandledPortWrites > 0 {
      Console.write("    unhandled ports: ")
      Console.write(decimal: statistics.unhandledPortReads)
      Console.write(" reads, ")
      Console.write(decimal: statistics.unhandledPortWrites)
      Console.write(" writes\n")
    }
    if statistics.refusedMSRAccesses > 0 {
      Console.write("    refused MSR accesses (#GP injected): ")
      Console.write(decimal: statistics.refusedMSRAccesses)
      Console.write(", the last MSR ")
      Console.write(hex: UInt64(statistics.lastRefusedMSR))
      Console.write("\n")
    }
    count("unmapped MMIO accesses (all ones): ", statistics.unmappedMMIOAccesses)
    count("decoded instruction did not match the exit (re-executed): ", statistics.decodeMismatches)
    count("injected events: ", statistics.injectedEvents)
    count("EOIs through the paravirtual flag (no exit): ", statistics.paravirtualEOIs)
    count(
      "exits served by the world switch's fast path (counted above, not in per exit): ",
      statistics.fastExits)
    count(
      "ignored IPIs (SMI, reserved modes, INIT de-assert, no target): ",
      statistics.ignoredInterprocessorInterrupts)
    if statistics.initSignalsTaken + statistics.startupIPIsTaken + statistics.startupIPIsIgnored > 0
    {
      Console.write("    INIT signals taken: ")
      Console.write(decimal: statistics.initSignalsTaken)
      Console.write(", start-up IPIs taken: ")
      Console.write(decimal: statistics.startupIPIsTaken)
      Console.write(" (ignored: ")
      Console.write(decimal: statistics.startupIPIsIgnored)
      Console.write(")\n")
    }
  }
}
