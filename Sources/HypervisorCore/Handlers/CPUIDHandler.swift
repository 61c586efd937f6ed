/// CPUID: the host's answer edited by CPUIDPolicy, written to EAX, EBX, ECX, EDX
/// (zero-extending into the 64-bit registers, as the instruction does).
public enum CPUIDHandler {
  @inline(__always)
  public static func handle<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> ExitOutcome {
    let leaf = UInt32(truncatingIfNeeded: vcpu.registers.rax)
    let subleaf = UInt32(truncatingIfNeeded: vcpu.registers.rcx)
    let host = guest.hostCPUID(leaf: leaf, subleaf: subleaf)
    // Leaf 7's OSPKE follows the guest's CR4.PKE: read only for that leaf, where the host
    // has PKU (an exit trace records the questions in this order, docs/exit-trace.md).
    let osPKE =
      leaf == 7 && host.ecx & CPUIDPolicy.pku != 0
      && guest.readControlRegister(4) & ControlRegisterRules.pke != 0
    let result = CPUIDPolicy.apply(
      leaf: leaf, subleaf: subleaf, host: host, vcpuIndex: vcpu.index,
      hasLocalAPIC: vcpu.localAPIC != nil, vcpuCount: vm.profile.vcpuCount, osPKE: osPKE,
      localAPICEnabled: vcpu.localAPIC?.mode != .disabled)
    vcpu.registers.rax = UInt64(result.eax)
    vcpu.registers.rbx = UInt64(result.ebx)
    vcpu.registers.rcx = UInt64(result.ecx)
    vcpu.registers.rdx = UInt64(result.edx)
    return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
  }
}
