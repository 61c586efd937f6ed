/// IN and OUT through the VM's port table. A port with no device reads as all ones and
/// swallows writes, as an empty ISA bus does; both are counted. String forms (INS/OUTS)
/// are emulated in bounded chunks by StringPortIO.
public enum PortIOHandler {
  public static func handle<Guest: GuestStateAccess>(
    _ access: PortAccess, _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest
  ) -> ExitOutcome {
    if access.isString {
      return StringPortIO.handle(access, exit, vcpu: vcpu, vm: vm, guest: &guest)
    }
    let mask: UInt64 = access.size >= 4 ? 0xFFFF_FFFF : (1 << (UInt64(access.size) * 8)) - 1
    let device = vm.ports.device(for: access.port)
    switch access.direction {
    case .read:
      let value: UInt64
      if let device {
        value = UInt64(device.read(port: access.port, size: access.size)) & mask
      } else {
        vcpu.statistics.unhandledPortReads &+= 1
        value = mask
      }
      // IN writes AL/AX/EAX; a 32-bit IN zero-extends into RAX (SDM 1 §3.4.1.1).
      let rax = vcpu.registers.rax
      vcpu.registers.rax = access.size == 4 ? value : (rax & ~mask) | value
    case .write:
      let value = UInt32(truncatingIfNeeded: vcpu.registers.rax & mask)
      if let device {
        if let reason = device.write(port: access.port, size: access.size, value: value).stopReason
        {
          return .stop(reason)
        }
      } else {
        vcpu.statistics.unhandledPortWrites &+= 1
      }
    }
    // A length checked for an earlier instruction exit whose handler did not complete it
    // (a refused MSR) must not be taken for this one's (SVM reports IN/OUT's next RIP, so
    // this is the rare case).
    if exit.instructionLength == nil { vcpu.checkedInstructionLength = 0 }
    return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
  }
}
