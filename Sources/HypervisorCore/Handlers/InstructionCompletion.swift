/// Moves RIP past the exiting instruction. The length comes from the hardware when it
/// reports one (VMX always; SVM with NRIPS); otherwise the instruction is fetched and
/// decoded, with a shortcut for the unprefixed two-byte forms that dominate exits.
public enum InstructionCompletion {
  @inline(__always)
  public static func complete<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> ExitOutcome {
    if let length = exit.instructionLength {
      vcpu.advance(by: length)
      return .resume
    }
    return decodeAndComplete(vcpu: vcpu, vm: vm, guest: guest)
  }

  static func decodeAndComplete<Guest: GuestStateAccess>(
    vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> ExitOutcome {
    let rip = vcpu.registers.rip
    let mode = guest.mode()
    guard let bytes = InstructionFetcher.fetch(rip: rip, mode: mode, memory: vm.memory),
      let length = InstructionLength.decode(bytes, width: mode.width)
    else {
      return .stop(.instructionFetchFailed(rip: rip))
    }
    vcpu.advance(by: length)
    return .resume
  }
}
