/// A guest-physical access nested paging refused: MMIO to a device model (the instruction
/// is fetched, decoded and emulated), or an access to nothing, which stops the VM or gets
/// the architectural answer, as the VM's profile says.
public enum NestedPageFaultHandler {
  public static func handle<Guest: GuestStateAccess>(
    _ fault: NestedPageFault, _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine,
    guest: inout Guest
  ) -> ExitOutcome {
    let address = fault.guestPhysical
    let entry = vcpu.localDevices.entry(for: address) ?? vm.mmio.entry(for: address)
    if entry == nil && vm.profile.unmapped == .stop || fault.access == .instructionFetch {
      return .stop(
        .unmappedAccess(
          guestPhysical: address, access: fault.access, beyondMemory: address >= vm.memory.end))
    }
    let rip = vcpu.registers.rip
    let mode = guest.mode()
    guard let bytes = InstructionFetcher.fetch(rip: rip, mode: mode, memory: vm.memory) else {
      return .stop(.instructionFetchFailed(rip: rip))
    }
    let decoded: DecodedMemoryAccess
    switch MemoryAccessDecoder.decode(bytes, width: mode.width) {
    case .success(let access): decoded = access
    case .failure(let error):
      let opcode: UInt8
      if case .unsupportedOpcode(let byte) = error { opcode = byte } else { opcode = bytes[0] }
      return .stop(.unsupportedMMIOInstruction(guestPhysical: address, opcode: opcode))
    }
    guard let entry else {
      vcpu.statistics.unmappedMMIOAccesses &+= 1
      MemoryAccessEmulator.execute(
        decoded, registers: &vcpu.registers, read: { size in TestMMIODevice.mask(size) },
        write: { _, _ in })
      return .resume
    }
    var effect = DeviceEffect.none
    var offset = address - entry.base
    let step: UInt64
    if case .storeString(let size, _, _) = decoded.instruction {
      step = vcpu.registers.rflags & (1 << 10) != 0 ? 0 &- UInt64(size) : UInt64(size)
    } else {
      step = 0
    }
    MemoryAccessEmulator.execute(
      decoded, registers: &vcpu.registers,
      read: { size in entry.device.read(offset: offset, size: size) },
      write: { size, value in
        let result = entry.device.write(offset: offset, size: size, value: value)
        if result != .none { effect = result }
        offset &+= step
      })
    if let reason = effect.stopReason { return .stop(reason) }
    return .resume
  }
}
