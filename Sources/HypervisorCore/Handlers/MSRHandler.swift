/// RDMSR and WRMSR through the VM's MSRPolicy. A refused access injects #GP(0) and leaves
/// RIP on the instruction, as the processor does for an MSR that does not exist.
public enum MSRHandler {
  public static func read<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest
  ) -> ExitOutcome {
    let index = UInt32(truncatingIfNeeded: vcpu.registers.rcx)
    guard let value = value(of: index, vcpu: vcpu, vm: vm, guest: guest) else {
      return refuse(vcpu)
    }
    vcpu.registers.edxEax = value
    return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
  }

  public static func write<Guest: GuestStateAccess>(
    _ exit: VMExit, vcpu: VirtualCPU, vm: VirtualMachine, guest: inout Guest
  ) -> ExitOutcome {
    let index = UInt32(truncatingIfNeeded: vcpu.registers.rcx)
    let value = vcpu.registers.edxEax
    guard let rule = vm.msrPolicy.rule(for: index) else { return refuse(vcpu) }
    switch rule {
    case .vendorState:
      guard isValidWrite(index: index, value: value), guest.writeStateMSR(index, value) else {
        return refuse(vcpu)
      }
    case .readOnly, .timeStampCounter:
      return refuse(vcpu)
    case .tscDeadline:
      guard let apic = vcpu.localAPIC else { return refuse(vcpu) }
      apic.setTSCDeadline(value)
    case .constantIgnoringWrites:
      break
    case .shadowed:
      if let slot = vcpu.shadowMSRs.firstIndex(where: { $0.index == index }) {
        vcpu.shadowMSRs[slot].value = value
      } else {
        vcpu.shadowMSRs.append((index, value))
      }
    }
    return InstructionCompletion.complete(exit, vcpu: vcpu, vm: vm, guest: guest)
  }

  static func value<Guest: GuestStateAccess>(
    of index: UInt32, vcpu: VirtualCPU, vm: VirtualMachine, guest: Guest
  ) -> UInt64? {
    guard let rule = vm.msrPolicy.rule(for: index) else { return nil }
    switch rule {
    case .vendorState: return guest.readStateMSR(index)
    case .readOnly(let value): return value
    case .constantIgnoringWrites(let value):
      // IA32_APIC_BASE bit 8: this is the bootstrap processor.
      return index == MSRPolicy.apicBase && vcpu.index == 0 ? value | 1 << 8 : value
    case .shadowed(let initial):
      return vcpu.shadowMSRs.first(where: { $0.index == index })?.value ?? initial
    case .timeStampCounter: return guest.guestTimeStampCounter()
    case .tscDeadline: return vcpu.localAPIC?.tscDeadline
    }
  }

  /// Values the processor itself would refuse with #GP.
  static func isValidWrite(index: UInt32, value: UInt64) -> Bool {
    switch index {
    case MSRPolicy.efer:
      // SCE (0), LME (8), LMA (10), NXE (11), LMSLE (13), FFXSR (14), TCE (15). SVME (12)
      // is reserved for a guest that CPUID told has no SVM.
      return value & ~0xED01 == 0
    case MSRPolicy.pat:
      // Each of the eight entries must be a valid memory type: 0, 1, 4, 5, 6 or 7 (SDM 3A §11.12.2).
      for entry in 0..<8 {
        let type = (value >> UInt64(entry * 8)) & 0xFF
        if type == 2 || type == 3 || type > 7 { return false }
      }
      return true
    case 0xC000_0100, 0xC000_0101, 0xC000_0102, 0xC000_0082, 0xC000_0083, 0x175, 0x176:
      // Addresses must be canonical (48-bit).
      let upper = value >> 47
      return upper == 0 || upper == 0x1_FFFF
    default:
      return true
    }
  }

  static func refuse(_ vcpu: VirtualCPU) -> ExitOutcome {
    vcpu.statistics.refusedMSRAccesses &+= 1
    vcpu.statistics.lastRefusedMSR = UInt32(truncatingIfNeeded: vcpu.registers.rcx)
    vcpu.pendingEvent = .generalProtection(0)
    return .resume
  }
}
