/// What a handler decided. RIP has already been advanced when the instruction completed;
/// an exception to deliver is left in `VirtualCPU.pendingEvent`.
public enum ExitOutcome: Equatable {
  /// Enter the guest again.
  case resume
  /// HLT with interrupts enabled: the vCPU waits for an interrupt.
  case halt
  /// The vCPU gives up the rest of its time slice (a spin-wait on a shared core).
  case yield
  /// The VM ends.
  case stop(StopReason)
}

/// Why a VM ended. The report names it in words; the hypervisor and the other VMs go on.
public enum StopReason: Equatable {
  /// Hypercall 3, with the guest's exit code.
  case guestRequested(code: UInt64)
  /// A write of `value` to the debug-exit port (0xF4): the exit code is `value`, and the
  /// status QEMU's isa-debug-exit would give, `(value << 1) | 1`, is reported too, so a test
  /// harness reads kvm-unit-tests' results as it does under QEMU.
  case debugExit(value: UInt64)
  /// The guest powered itself off through ACPI (S5).
  case poweredOff
  /// The guest asked for a reset (0xCF9, the 8042): the VM ends.
  case reset
  /// Every vCPU executed HLT with RFLAGS.IF = 0: nothing can ever wake them.
  case haltedWithInterruptsDisabled
  /// HLT with interrupts enabled, but the VM has no interrupt source that could wake it.
  case haltedWithoutInterruptSource
  /// Triple fault (VMX) or shutdown (SVM).
  case shutdown
  /// A guest-physical access to neither RAM nor a device, under `unmapped=stop`.
  case unmappedAccess(guestPhysical: UInt64, access: NestedPageFault.Access, beyondMemory: Bool)
  /// An MMIO access by an instruction the decoder does not emulate.
  case unsupportedMMIOInstruction(guestPhysical: UInt64, opcode: UInt8)
  /// A nested page fault while the processor was delivering an event (exception, interrupt,
  /// NMI) through the guest's IDT: the IDT, GDT, TSS or stack it needed lies in MMIO or
  /// unmapped memory, which no instruction can be emulated for. `guestPhysical` is the
  /// refused address.
  case eventDeliveryFailed(vector: UInt8, guestPhysical: UInt64)
  /// INS or OUTS whose memory operand is not guest RAM (MMIO or unmapped guest-physical
  /// memory; a page not present in the guest's tables is the guest's #PF instead).
  case stringIOOperandNotRAM(port: UInt16, guestLinear: UInt64)
  /// The instruction at RIP could not be read from guest memory.
  case instructionFetchFailed(rip: UInt64)
  /// An exit no handler serves.
  case unexpectedExit(vendorCode: UInt64)
  case entryFailure(code: UInt64)
  /// That many exits in a row at one RIP, none completing its instruction
  /// (ExitStormDetector).
  case exitStorm(exits: UInt64)
  /// The operator (control channel) stopped it.
  case operatorRequest
}

extension StopReason {
  /// QEMU isa-debug-exit's process exit status for a debug-exit write (`(value << 1) | 1`),
  /// nil for every other end.
  public var debugExitStatus: UInt64? {
    if case .debugExit(let value) = self { return value << 1 | 1 }
    return nil
  }
}
