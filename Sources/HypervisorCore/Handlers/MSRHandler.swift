/// RDMSR and WRMSR through the VM's MSRPolicy. A refused access injects #GP(0) and leaves
/// RIP on the instruction, as the processor does for an MSR that does not exist.
///
/// Time: the device models' GuestClock is the host TSC; a guest's TSC is that plus its
/// vCPU's TSC offset, which a WRMSR to IA32_TSC changes. The local APIC model keeps its
/// TSC-deadline on the clock, so IA32_TSC_DEADLINE is translated by the offset here, on
/// read and write, and re-armed when the guest writes its TSC.
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
    case .tscDeadline:
      guard let apic = vcpu.localAPIC else { return refuse(vcpu) }
      apic.setTSCDeadline(clockDeadline(guestDeadline: value, guest: guest))
    case .vendorState:
      // EFER: only the bits of features the guest's CPUID offers (ControlRegisterRules).
      if index == MSRPolicy.efer && value & ~vm.controlRegisterRules.allowedEFER != 0 {
        return refuse(vcpu)
      }
      guard isValidWrite(index: index, value: value, vendor: vm.msrPolicy.vendor, vm: vm),
        guest.writeStateMSR(index, value)
      else {
        return refuse(vcpu)
      }
    case .readOnly:
      return refuse(vcpu)
    case .timeStampCounter:
      // SDM 3B §17.17: a write to IA32_TSC sets the counter; here this vCPU's offset, so
      // the guest's TSC reads `value` now and counts on from it. An armed TSC-deadline
      // stays at the same guest TSC value (SDM 3A §11.5.4.1): re-armed on the new offset.
      let armed = vcpu.localAPIC.map { guestDeadline(of: $0, guest: guest) } ?? 0
      guest.setGuestTimeStampCounter(value)
      if armed != 0, let apic = vcpu.localAPIC {
        apic.setTSCDeadline(clockDeadline(guestDeadline: armed, guest: guest))
      }
    case .apicBase, .x2APIC:
      // MAXPHYADDR bounds IA32_APIC_BASE's address: CPUID.80000008H:EAX[7:0], which the
      // CPUID policy passes on (SDM 3A §11.4.4).
      let width = UInt8(truncatingIfNeeded: guest.hostCPUID(leaf: 0x8000_0008, subleaf: 0).eax)
      guard writeLocalAPIC(index, value, vcpu: vcpu, physicalAddressBits: width == 0 ? 36 : width)
      else { return refuse(vcpu) }
    case .timeStampCounterAuxiliary:
      // Bits 63:32 are reserved (SDM Vol 4 Table 2-2): #GP(0), as the processor raises.
      guard value >> 32 == 0 else { return refuse(vcpu) }
      vcpu.setTimeStampCounterAuxiliary(value)
    case .supervisorProtectionKeyRights:
      guard value >> 32 == 0 else { return refuse(vcpu) }  // bits 63:32 reserved
      vcpu.supervisorProtectionKeyRights = UInt32(truncatingIfNeeded: value)
      vcpu.markAuxiliaryRegistersStale()
    case .paravirtualEOI:
      guard let apic = vcpu.localAPIC,
        vcpu.paravirtualEOI.write(value, apic: apic, memory: vm.memory)
      else { return refuse(vcpu) }
    case .constantIgnoringWrites:
      guard isValidWrite(index: index, value: value, vendor: vm.msrPolicy.vendor, vm: vm) else {
        return refuse(vcpu)
      }
    case .shadowed(let initial, let writable):
      let slot = vcpu.shadowMSRs.firstIndex(where: { $0.index == index })
      let current = slot.map { vcpu.shadowMSRs[$0].value } ?? initial
      guard (current ^ value) & ~writable == 0,
        isValidWrite(index: index, value: value, vendor: vm.msrPolicy.vendor, vm: vm)
      else {
        return refuse(vcpu)
      }
      if let slot {
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
    case .tscDeadline:
      guard let apic = vcpu.localAPIC else { return nil }
      return guestDeadline(of: apic, guest: guest)
    case .timeStampCounter: return guest.guestTimeStampCounter()
    case .vendorState: return guest.readStateMSR(index)
    case .readOnly(let value): return value
    case .constantIgnoringWrites(let value): return value
    case .apicBase, .x2APIC:
      return readLocalAPIC(index, vcpu: vcpu)
    case .timeStampCounterAuxiliary: return vcpu.timeStampCounterAuxiliary
    case .supervisorProtectionKeyRights: return UInt64(vcpu.supervisorProtectionKeyRights)
    case .paravirtualEOI: return vcpu.localAPIC == nil ? nil : vcpu.paravirtualEOI.msrValue
    case .shadowed(let initial, _):
      return vcpu.shadowMSRs.first(where: { $0.index == index })?.value ?? initial
    }
  }

  /// IA32_APIC_BASE and the x2APIC registers: nil for #GP (no local APIC model, or the
  /// model refuses). Out of line, so that the model's register switch does not grow the
  /// handler every other MSR exit runs through.
  @inline(never)
  static func readLocalAPIC(_ index: UInt32, vcpu: VirtualCPU) -> UInt64? {
    guard let apic = vcpu.localAPIC else { return nil }
    return index == MSRPolicy.apicBase ? apic.baseMSR : apic.readX2APIC(index)
  }

  /// WRMSR of IA32_APIC_BASE or an x2APIC register; false for #GP. Out of line (see above).
  @inline(never)
  static func writeLocalAPIC(
    _ index: UInt32, _ value: UInt64, vcpu: VirtualCPU, physicalAddressBits: UInt8
  ) -> Bool {
    guard let apic = vcpu.localAPIC else { return false }
    guard index == MSRPolicy.apicBase else { return apic.writeX2APIC(index, value) }
    let base = apic.mmioBase
    guard apic.setBaseMSR(value, physicalAddressBits: physicalAddressBits) else { return false }
    if apic.mmioBase != base { vcpu.placeLocalAPIC() }
    return true
  }

  /// The armed TSC-deadline as the guest wrote it (its TSC), or 0 when disarmed.
  static func guestDeadline<Guest: GuestStateAccess>(
    of apic: LocalAPICModel, guest: Guest
  ) -> UInt64 {
    let onClock = apic.tscDeadline
    return onClock == 0 ? 0 : onClock &+ guest.timeStampCounterOffset
  }

  /// A guest TSC-deadline on the clock the local APIC model runs on (the host TSC). 0 stays
  /// 0 (disarm). A deadline already passed fires at the next poll: it becomes the clock's
  /// current time, which does not wrap whatever the offset.
  static func clockDeadline<Guest: GuestStateAccess>(
    guestDeadline value: UInt64, guest: Guest
  ) -> UInt64 {
    let offset = guest.timeStampCounterOffset
    // With no offset (the guest never wrote its TSC) the two clocks are one: no translation.
    guard value != 0, offset != 0 else { return value }
    let now = guest.guestTimeStampCounter()
    let onClock = (value > now ? value : now) &- offset
    return onClock == 0 ? 1 : onClock
  }

  /// Values the processor itself would refuse with #GP (reserved bits, invalid encodings),
  /// for the VM's guest-visible features.
  static func isValidWrite(
    index: UInt32, value: UInt64, vendor: CPUFeatures.Vendor, vm: VirtualMachine
  ) -> Bool {
    let offersLA57 = vm.controlRegisterRules.allowedCR4 & ControlRegisterRules.la57 != 0
    return isValidWrite(
      index: index, value: value, vendor: vendor, linearAddressBits: offersLA57 ? 57 : 48)
  }

  /// As above, for a processor with `linearAddressBits` (48, or 57 where CPUID offers LA57).
  static func isValidWrite(
    index: UInt32, value: UInt64, vendor: CPUFeatures.Vendor, linearAddressBits: UInt64
  ) -> Bool {
    switch index {
    case MSRPolicy.efer:
      // SCE (0), LME (8), LMA (10), NXE (11); on AMD also LMSLE (13), FFXSR (14), TCE (15)
      // (APM Vol 2 §3.1.7). SVME (12) is reserved for a guest that CPUID told has no SVM.
      // Intel defines only the first four (SDM Vol 4 Table 2-2).
      return value & ~(vendor == .intel ? 0x0D01 : 0xED01) == 0
    case MSRPolicy.pat:
      // Each of the eight entries must be a valid memory type: 0, 1, 4, 5, 6 or 7 (SDM 3A §11.12.2).
      for entry in 0..<8
      where !isMemoryType((value >> UInt64(entry * 8)) & 0xFF, uncachedMinus: true) {
        return false
      }
      return true
    case MSRPolicy.mtrrDefaultType:
      // The default type must be UC, WC, WT, WP or WB (SDM 3A §11.11.2.1, Table 11-8).
      return isMemoryType(value & 0xFF, uncachedMinus: false)
    case MSRPolicy.apicBase:
      // BSP (8, read-only), EXTD (10), enable (11), base (12 and up); 0-7, 9 and the bits
      // above a 52-bit physical address are reserved. LocalAPICModel.setBaseMSR decides.
      return value & 0xFFF0_0000_0000_02FF == 0
    case MSRPolicy.debugControl:
      // Only LBR (0) and BTF (1), which are dropped; the rest is not virtualized.
      return value & ~0x3 == 0
    case MSRPolicy.virtualMachineControl:
      // Only LOCK (3) and SVMDIS (4), which LOCK makes read-only.
      return value & ~0x18 == 0
    case 0xC000_0100, 0xC000_0101, 0xC000_0102, 0xC000_0082, 0xC000_0083, 0x175, 0x176:
      // Addresses must be canonical: bits 63 down to the top implemented bit equal. The
      // width is the processor's, 57 bits where it supports LA57 whatever CR4.LA57 says
      // (SDM 3A §4.1.1 and Vol 4 Table 2-2; kvm-unit-tests' la57 test).
      let upper = value >> (linearAddressBits - 1)
      return upper == 0 || upper == (1 << (65 - linearAddressBits)) - 1
    default:
      return true
    }
  }

  /// UC 0, WC 1, WT 4, WP 5, WB 6, and for PAT UC- 7 (SDM 3A Tables 11-8, 11-10).
  static func isMemoryType(_ type: UInt64, uncachedMinus: Bool) -> Bool {
    switch type {
    case 0, 1, 4, 5, 6: return true
    case 7: return uncachedMinus
    default: return false
    }
  }

  static func refuse(_ vcpu: VirtualCPU) -> ExitOutcome {
    vcpu.statistics.refusedMSRAccesses &+= 1
    vcpu.statistics.lastRefusedMSR = UInt32(truncatingIfNeeded: vcpu.registers.rcx)
    vcpu.pendingEvent = .generalProtection(0)
    return .resume
  }
}
