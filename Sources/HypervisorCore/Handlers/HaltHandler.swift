/// HLT. With interrupts disabled (RFLAGS.IF = 0) nothing can wake the vCPU: it has stopped
/// for good, and when every vCPU of the VM has (or waits for a start-up IPI that no
/// running vCPU is left to send), the VM ends. With interrupts enabled the
/// vCPU waits, unless the VM has no device that could ever interrupt it.
public enum HaltHandler {
  public static func handle<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest
  ) -> ExitOutcome {
    let completed = InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
    guard completed == .resume else { return completed }
    let interruptsEnabled = vcpu.registers.rflags & (1 << 9) != 0
    if interruptsEnabled && vm.hasInterruptSources {
      vcpu.state = .halted
      return .halt
    }
    vcpu.state = .stopped
    if vm.vcpus.allSatisfy({
      $0.state == .stopped || ($0.state == .waitingForStartup && !$0.hasRequests)
    }) {
      return .stop(
        interruptsEnabled ? .haltedWithoutInterruptSource : .haltedWithInterruptsDisabled)
    }
    return .halt
  }
}
