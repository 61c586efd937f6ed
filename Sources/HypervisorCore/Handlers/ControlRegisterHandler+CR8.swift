/// MOV to and from CR8, the task priority register's class (SDM 3A §11.8.6.1): CR8[3:0] is
/// TPR[7:4]. A write sets TPR[7:4] and clears TPR[3:0]; a read returns TPR[7:4]. The TPR is
/// the vCPU's local APIC model's, so the guest's xAPIC page (0x80), its x2APIC MSR 0x808
/// and the priority that gates delivery (`pendingVector`) all follow CR8 (kvm-unit-tests'
/// apic_disable: "*0xfee00080" after `write_cr8`). VMX exits on every MOV CR8
/// (VMXControlPlan: no TPR shadow).
extension ControlRegisterHandler {
  static func taskPriority<Guest: GuestStateAccess>(
    _ access: ControlRegisterAccess, _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: Guest
  ) -> ExitOutcome {
    let register = Int(access.generalRegister)
    guard register < 16 else { return .stop(.unexpectedExit(vendorCode: 0x18)) }
    switch access.kind {
    case .read:
      // Without a local APIC there is no TPR: CR8 reads 0 and writes are dropped.
      vcpu.registers[register] = UInt64((vcpu.localAPIC?.taskPriority ?? 0) >> 4)
    case .write:
      let value = vcpu.registers[register]
      // Bits 63:4 are reserved (SDM 2B MOV CR: #GP(0) on a reserved bit of CR8).
      guard value & ~0xF == 0 else {
        vcpu.pendingEvent = .generalProtection(0)
        return .resume
      }
      vcpu.localAPIC?.setTaskPriorityClass(UInt8(value))
    case .clts, .lmsw:
      return .stop(.unexpectedExit(vendorCode: 0x18))
    }
    return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
  }
}
