/// MOV to/from CR0, CR3, CR4, CLTS and LMSW, when they exit: on VMX, a write that touches a
/// bit the host owns (the CR0/CR4 guest/host masks). The backend applies the value with its
/// fixed bits and keeps the guest's view in the read shadow.
public enum ControlRegisterHandler {
  public static func handle<Guest: GuestStateAccess>(
    _ access: ControlRegisterAccess, _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: inout Guest
  ) -> ExitOutcome {
    let number = access.register
    guard number == 0 || number == 3 || number == 4 else {
      return .stop(.unexpectedExit(vendorCode: UInt64(number)))
    }
    switch access.kind {
    case .read:
      vcpu.registers[Int(access.generalRegister)] = guest.readControlRegister(number)
    case .write:
      guard access.generalRegister < 16 else { return .stop(.unexpectedExit(vendorCode: 0x1C)) }
      if !guest.writeControlRegister(number, vcpu.registers[Int(access.generalRegister)]) {
        vcpu.pendingEvent = .generalProtection(0)
        return .resume
      }
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
