/// The VMX capability MSRs of one processor (SDM 3C Appendix A), read once at boot.
///
/// The control MSRs hold allowed-0 settings in bits 31:0 (a 1 means the control must be 1)
/// and allowed-1 settings in bits 63:32 (a 0 means the control must be 0), Appendix A.3–A.5.
public struct VMXCapabilities: Equatable {
  /// IA32_VMX_BASIC (Appendix A.1).
  public var basic: UInt64
  /// IA32_VMX_PINBASED_CTLS, IA32_VMX_PROCBASED_CTLS, IA32_VMX_EXIT_CTLS and
  /// IA32_VMX_ENTRY_CTLS (Appendix A.3.1, A.3.2, A.4, A.5).
  public var pinBased: UInt64
  public var procBased: UInt64
  public var exit: UInt64
  public var entry: UInt64
  /// The IA32_VMX_TRUE_* variants, which exist only when `usesTrueControls`; 0 otherwise.
  public var truePinBased: UInt64
  public var trueProcBased: UInt64
  public var trueExit: UInt64
  public var trueEntry: UInt64
  /// IA32_VMX_PROCBASED_CTLS2 (Appendix A.3.3); 0 when "activate secondary controls"
  /// cannot be 1, because the MSR does not exist then.
  public var procBased2: UInt64
  /// IA32_VMX_EPT_VPID_CAP (Appendix A.10); 0 when neither EPT nor VPID can be enabled.
  public var eptVPIDCap: UInt64
  /// IA32_VMX_CR0_FIXED0/1 and IA32_VMX_CR4_FIXED0/1 (Appendix A.7, A.8).
  public var cr0Fixed0: UInt64
  public var cr0Fixed1: UInt64
  public var cr4Fixed0: UInt64
  public var cr4Fixed1: UInt64
  /// IA32_VMX_MISC (Appendix A.6).
  public var misc: UInt64

  public init(
    basic: UInt64, pinBased: UInt64, procBased: UInt64, exit: UInt64, entry: UInt64,
    truePinBased: UInt64, trueProcBased: UInt64, trueExit: UInt64, trueEntry: UInt64,
    procBased2: UInt64, eptVPIDCap: UInt64, cr0Fixed0: UInt64, cr0Fixed1: UInt64,
    cr4Fixed0: UInt64, cr4Fixed1: UInt64, misc: UInt64
  ) {
    self.basic = basic
    self.pinBased = pinBased
    self.procBased = procBased
    self.exit = exit
    self.entry = entry
    self.truePinBased = truePinBased
    self.trueProcBased = trueProcBased
    self.trueExit = trueExit
    self.trueEntry = trueEntry
    self.procBased2 = procBased2
    self.eptVPIDCap = eptVPIDCap
    self.cr0Fixed0 = cr0Fixed0
    self.cr0Fixed1 = cr0Fixed1
    self.cr4Fixed0 = cr4Fixed0
    self.cr4Fixed1 = cr4Fixed1
    self.misc = misc
  }

  /// Reads every capability MSR that exists, in the order Appendix A allows: the TRUE_
  /// MSRs only when IA32_VMX_BASIC bit 55 is set, PROCBASED_CTLS2 only when "activate
  /// secondary controls" can be 1 (A.3.3), EPT_VPID_CAP only when "enable EPT" or
  /// "enable VPID" can be 1 (A.10). Reading an absent MSR would raise #GP.
  public static func read(using readMSR: (UInt32) -> UInt64) -> VMXCapabilities {
    let basic = readMSR(VMXCapabilityMSR.basic)
    let hasTrue = basic & (1 << 55) != 0
    let procBased = readMSR(VMXCapabilityMSR.processorBasedControls)
    let activateSecondary = UInt64(PrimaryProcessorControl.activateSecondaryControls.rawValue) << 32
    let procBased2 =
      procBased & activateSecondary != 0
      ? readMSR(VMXCapabilityMSR.secondaryProcessorBasedControls) : 0
    let eptOrVPID =
      UInt64(
        SecondaryProcessorControl.enableEPT.rawValue | SecondaryProcessorControl.enableVPID.rawValue
      )
      << 32
    return VMXCapabilities(
      basic: basic,
      pinBased: readMSR(VMXCapabilityMSR.pinBasedControls),
      procBased: procBased,
      exit: readMSR(VMXCapabilityMSR.exitControls),
      entry: readMSR(VMXCapabilityMSR.entryControls),
      truePinBased: hasTrue ? readMSR(VMXCapabilityMSR.truePinBasedControls) : 0,
      trueProcBased: hasTrue ? readMSR(VMXCapabilityMSR.trueProcessorBasedControls) : 0,
      trueExit: hasTrue ? readMSR(VMXCapabilityMSR.trueExitControls) : 0,
      trueEntry: hasTrue ? readMSR(VMXCapabilityMSR.trueEntryControls) : 0,
      procBased2: procBased2,
      eptVPIDCap: procBased2 & eptOrVPID != 0
        ? readMSR(VMXCapabilityMSR.eptVPIDCapabilities) : 0,
      cr0Fixed0: readMSR(VMXCapabilityMSR.cr0Fixed0),
      cr0Fixed1: readMSR(VMXCapabilityMSR.cr0Fixed1),
      cr4Fixed0: readMSR(VMXCapabilityMSR.cr4Fixed0),
      cr4Fixed1: readMSR(VMXCapabilityMSR.cr4Fixed1),
      misc: readMSR(VMXCapabilityMSR.misc))
  }
}

// IA32_VMX_BASIC (Appendix A.1).
extension VMXCapabilities {
  /// Bits 30:0: the VMCS revision identifier written to the first dword of the VMXON
  /// region and of every VMCS (bit 31 of that dword is the shadow-VMCS indicator).
  public var revision: UInt32 {
    UInt32(truncatingIfNeeded: basic) & 0x7FFF_FFFF
  }

  /// Bits 44:32: bytes to allocate for the VMXON region and each VMCS (at most 4096).
  public var vmcsRegionSize: UInt32 {
    UInt32(truncatingIfNeeded: (basic >> 32) & 0x1FFF)
  }

  /// Bits 53:50: the memory type for the VMCS and the structures it points to (6 = WB).
  public var vmcsMemoryType: UInt8 {
    UInt8(truncatingIfNeeded: (basic >> 50) & 0xF)
  }

  /// Bit 54: VM exits for INS/OUTS report the VM-exit instruction-information field.
  public var reportsStringIOInformation: Bool { basic & (1 << 54) != 0 }

  /// Bit 55: the IA32_VMX_TRUE_*_CTLS MSRs exist and say which default1 controls may be 0.
  public var usesTrueControls: Bool { basic & (1 << 55) != 0 }

  /// Bit 56: VM entry may deliver a hardware exception with or without an error code
  /// regardless of the vector.
  public var relaxesErrorCodeChecks: Bool { basic & (1 << 56) != 0 }
}

// The control MSRs that govern each control word (Appendix A.3–A.5).
extension VMXCapabilities {
  public var pinBasedCapability: UInt64 { usesTrueControls ? truePinBased : pinBased }
  public var primaryProcessorCapability: UInt64 { usesTrueControls ? trueProcBased : procBased }
  public var exitCapability: UInt64 { usesTrueControls ? trueExit : exit }
  public var entryCapability: UInt64 { usesTrueControls ? trueEntry : entry }

  /// The secondary controls apply only when "activate secondary controls" can be 1
  /// (Appendix A.3.3): otherwise none of them may be used.
  public var secondaryProcessorCapability: UInt64 {
    let activate = UInt64(PrimaryProcessorControl.activateSecondaryControls.rawValue) << 32
    return primaryProcessorCapability & activate != 0 ? procBased2 : 0
  }
}

// IA32_VMX_MISC (Appendix A.6).
extension VMXCapabilities {
  /// Bits 4:0: the VMX-preemption timer counts down once per 2^rate TSC ticks.
  public var preemptionTimerRate: UInt8 { UInt8(truncatingIfNeeded: misc & 0x1F) }

  /// Bit 5: VM exits store EFER.LMA into the "IA-32e mode guest" entry control.
  public var exitStoresLMA: Bool { misc & (1 << 5) != 0 }

  /// Bit 6: VM entry may put the guest in the HLT activity state.
  public var supportsHLTActivityState: Bool { misc & (1 << 6) != 0 }

  /// Bit 7: VM entry may put the guest in the shutdown activity state.
  public var supportsShutdownActivityState: Bool { misc & (1 << 7) != 0 }

  /// Bit 8: VM entry may put the guest in the wait-for-SIPI activity state.
  public var supportsWaitForSIPIActivityState: Bool { misc & (1 << 8) != 0 }

  /// Bits 24:16: how many CR3-target values the processor supports.
  public var cr3TargetCount: UInt16 { UInt16(truncatingIfNeeded: (misc >> 16) & 0x1FF) }

  /// Bits 27:25 = N: the recommended maximum entries in each MSR list is 512 * (N + 1).
  public var maximumMSRListEntries: UInt32 {
    512 * (UInt32(truncatingIfNeeded: (misc >> 25) & 0x7) + 1)
  }

  /// Bit 29: VMWRITE may write the VM-exit information fields.
  public var canWriteExitInformationFields: Bool { misc & (1 << 29) != 0 }

  /// Bit 30: VM entry may inject software interrupts and exceptions with instruction
  /// length 0.
  public var allowsZeroLengthInjection: Bool { misc & (1 << 30) != 0 }
}
