/// Which MSRs a guest may touch and how (docs/guest-abi.md). Anything not listed gets
/// #GP(0), on read and write alike: the architectural answer for an MSR that does not exist.
/// Every rule backs a feature CPUIDPolicy offers, or an MSR every processor of the vendor
/// has; GuestABIConsistencyTests checks the two policies against each other.
public struct MSRPolicy {
  public enum Rule: Equatable {
    /// Held in the vendor's guest state (VMCB/VMCS): read and written there.
    case vendorState
    /// Reads return this constant; writes raise #GP.
    case readOnly(UInt64)
    /// Reads return this constant; writes the processor would accept (MSRHandler.isValidWrite)
    /// are accepted and dropped.
    case constantIgnoringWrites(UInt64)
    /// Kept per vCPU in the hypervisor; the guest reads back what it wrote. A write that
    /// changes a bit outside `writable` (a read-only or reserved bit) raises #GP.
    case shadowed(initial: UInt64, writable: UInt64)
    /// The guest's time-stamp counter: reads and writes go through the vCPU's TSC offset.
    case timeStampCounter
    /// IA32_TSC_DEADLINE: the vCPU's local APIC timer in TSC-deadline mode (#GP without one).
    case tscDeadline
    /// IA32_APIC_BASE: the vCPU's local APIC at its default base, with its xAPIC/x2APIC
    /// mode (#GP without one).
    case apicBase
    /// The x2APIC registers (0x800-0x8FF): the vCPU's local APIC in x2APIC mode (#GP
    /// without one, or outside x2APIC mode).
    case x2APIC
    /// IA32_TSC_AUX: the vCPU's own value (`VirtualCPU.timeStampCounterAuxiliary`), which
    /// RDTSCP and RDPID read from the processor's MSR while the vCPU runs.
    case timeStampCounterAuxiliary
    /// IA32_PKRS: the vCPU's own value (`VirtualCPU.supervisorProtectionKeyRights`), which
    /// the processor's paging checks read while the vCPU runs with CR4.PKS.
    case supervisorProtectionKeyRights
    /// KVM's MSR_KVM_PV_EOI_EN: the vCPU's paravirtual EOI (`VirtualCPU.paravirtualEOI`;
    /// #GP without a local APIC).
    case paravirtualEOI
  }

  public static let efer: UInt32 = 0xC000_0080
  public static let pat: UInt32 = 0x277
  public static let timeStampCounter: UInt32 = 0x10
  public static let tscDeadline: UInt32 = 0x6E0
  public static let apicBase: UInt32 = 0x1B
  public static let x2APICRegisters: ClosedRange<UInt32> = 0x800...0x8FF
  public static let mtrrDefaultType: UInt32 = 0x2FF
  public static let miscEnable: UInt32 = 0x1A0
  /// Bits 0, 3, 16, 18, 22, 23 and 34 of IA32_MISC_ENABLE (SDM Vol 4 Table 2-2).
  public static let miscEnableWritable: UInt64 = 0x4_00C5_0009
  public static let debugControl: UInt32 = 0x1D9
  public static let virtualMachineControl: UInt32 = 0xC001_0114
  /// IA32_TSC_AUX (SDM Vol 4 Table 2-2; APM Vol 2 §13.2.5 "TSC_AUX"): bits 31:0 are what
  /// RDTSCP returns in ECX and RDPID in its register; bits 63:32 are reserved (#GP).
  public static let timeStampCounterAuxiliary: UInt32 = 0xC000_0103
  /// IA32_PKRS (SDM Vol 4 Table 2-2; SDM 3A §4.6.2): AD/WD bits for the 16 supervisor
  /// protection keys in bits 31:0; bits 63:32 are reserved (#GP).
  public static let supervisorProtectionKeyRights: UInt32 = 0x6E1

  /// The processor vendor whose MSRs the guest sees (the host's: SVM runs on AMD, VMX on
  /// Intel). `.other` offers only the MSRs both vendors have.
  public let vendor: CPUFeatures.Vendor
  /// Searched in order: the MSRs Linux touches most often come first.
  public var rules: [(indices: ClosedRange<UInt32>, rule: Rule)]

  public init(vendor: CPUFeatures.Vendor = .other) {
    self.vendor = vendor
    rules = Self.common
    switch vendor {
    case .intel: rules += Self.intel
    case .amd: rules += Self.amd
    case .other: break
    }
  }

  /// The policy for the vendor named by the host's CPUID leaf 0.
  public init(hostLeaf0: CPUIDLeaf) {
    let none = CPUIDLeaf()
    self.init(
      vendor: CPUFeatures(leaf0: hostLeaf0, leaf1: none, extendedLeaf1: none, svmLeaf: nil).vendor)
  }

  static let common: [(indices: ClosedRange<UInt32>, rule: Rule)] = [
    (tscDeadline...tscDeadline, .tscDeadline),  // CPUID.1:ECX[24], with the local APIC
    (timeStampCounter...timeStampCounter, .timeStampCounter),  // CPUID.1:EDX[4] TSC
    // CPUID.1:ECX[21] x2APIC, with the local APIC: EOI and ICR are among the hottest MSRs
    // of an x2APIC guest, so the range comes early (after the TSC, which every guest reads).
    (x2APICRegisters, .x2APIC),
    (efer...efer, .vendorState),
    (pat...pat, .vendorState),  // CPUID.1:EDX[16] PAT
    (0xC000_0081...0xC000_0084, .vendorState),  // STAR, LSTAR, CSTAR, SFMASK (SYSCALL)
    (0xC000_0100...0xC000_0102, .vendorState),  // FS.base, GS.base, KernelGSbase (LM)
    (0x174...0x176, .vendorState),  // SYSENTER_CS/ESP/EIP: CPUID.1:EDX[11] SEP
    // xAPIC at its default base, enabled, then as the guest sets EN and EXTD; bit 8 (BSP)
    // on vCPU 0. CPUID.1:EDX[9].
    (apicBase...apicBase, .apicBase),
    // CPUID.1:EDX[12] MTRR. MTRRcap: no variable ranges (VCNT 0), no fixed ranges (FIX 0),
    // no WC, no SMRR, so no other MTRR exists (SDM 3A §11.11.1). MTRRdefType: enabled,
    // write-back by default; type, FE and E writable (§11.11.2.1), 9:8 and 63:12 reserved.
    (0xFE...0xFE, .readOnly(0)),
    (mtrrDefaultType...mtrrDefaultType, .shadowed(initial: 0x806, writable: 0xCFF)),
    // CPUID.1:EDX[14] MCA (SDM 3B §16.3.1): MCG_CAP reports 0 banks and no MCG_CTL (bit 8),
    // so neither IA32_MCG_CTL nor any IA32_MCi_* bank exists. MCG_STATUS: RIPV, EIPV, MCIP.
    (0x179...0x179, .readOnly(0)),
    (0x17A...0x17A, .shadowed(initial: 0, writable: 0x7)),
    // Microcode revision (Intel IA32_BIOS_SIGN_ID, AMD PATCH_LEVEL): 0; Intel's write-0-
    // then-CPUID protocol works (writes dropped).
    (0x8B...0x8B, .constantIgnoringWrites(0)),
    // IA32_DEBUGCTL (SDM 3B §17.4.1; APM Vol 2 §13.1.1.6), on every processor of both
    // vendors: reads 0. LBR and BTF are not virtualized: writes of them are dropped (as KVM
    // does without an LBR), other bits #GP.
    (debugControl...debugControl, .constantIgnoringWrites(0)),
    // IA32_MISC_ENABLE (SDM Vol 4 Table 2-2), on both vendors as KVM and QEMU give it (Linux
    // and kvm-unit-tests' msr test read and write it whatever the vendor): fast strings (0)
    // on; BTS (11) and PEBS (12) unavailable and no performance monitoring (7), all three
    // read-only. The other architecturally writable bits, thermal control (3), EIST (16),
    // MONITOR FSM (18), limit CPUID (22), xTPR disable (23) and XD disable (34), are stored
    // per vCPU and have no effect (as in KVM): CPUID does not follow them. Reserved bits #GP.
    (miscEnable...miscEnable, .shadowed(initial: 0x1801, writable: miscEnableWritable)),
    // CPUID 0x4000_0101 EAX[6] (KVM_FEATURE_PV_EOI), with the local APIC: set once per
    // vCPU as Linux brings it up.
    (ParavirtualEOI.msr...ParavirtualEOI.msr, .paravirtualEOI),
  ]

  static let intel: [(indices: ClosedRange<UInt32>, rule: Rule)] = [
    // IA32_FEATURE_CONTROL (SDM Vol 4 Table 2-2): locked (bit 0) with VMX off inside and
    // outside SMX: CPUID hides VMX and SMX. Linux reads it on every Intel CPU.
    (0x3A...0x3A, .readOnly(1))
  ]

  static let amd: [(indices: ClosedRange<UInt32>, rule: Rule)] = [
    // PERF_CTL0-3 and PERF_CTR0-3 (APM Vol 2 §13.2.1): on every AMD processor. No PMU is
    // virtualized: reads 0, writes dropped, as KVM answers with no vPMU. The core-extension
    // counters (0xC001_0200-020B) are hidden with CPUID 8000_0001 ECX[23] and #GP.
    (0xC001_0000...0xC001_0007, .constantIgnoringWrites(0)),
    // SYSCFG: 0 (no MTRR DRAM extensions, TOM2 off, no memory encryption).
    (0xC001_0010...0xC001_0010, .readOnly(0)),
    // NB_CFG: Linux reads it, and sets EnableCf8ExtCfg (46), on every AMD CPU of family
    // 10h and later as each comes online. That bit is stored (there is no PCI host bridge
    // for it to affect); any other change #GPs.
    (0xC001_001F...0xC001_001F, .shadowed(initial: 0, writable: 1 << 46)),
    // HWCR: TscFreqSel (24) reads 1 (the TSC counts at the P0 rate); TlbCacheDis (3),
    // IgnneEm (8) and McStatusWrEn (18) are stored; any other bit #GPs.
    (0xC001_0015...0xC001_0015, .shadowed(initial: 1 << 24, writable: 1 << 3 | 1 << 8 | 1 << 18)),
    // VM_CR (APM Vol 2 §15.30.1): SVM disabled by firmware: SVMDIS (4) and LOCK (3) set, so
    // writes to them are ignored. DPD, R_INIT and DIS_A20M are not virtualized: #GP.
    (virtualMachineControl...virtualMachineControl, .constantIgnoringWrites(0x18)),
  ]

  /// Adds IA32_TSC_AUX, for a guest whose CPUID offers RDTSCP or RDPID
  /// (CPUIDPolicy.offersTimeStampCounterAuxiliary); without them the MSR does not exist (#GP).
  public mutating func offerTimeStampCounterAuxiliary() {
    let index = Self.timeStampCounterAuxiliary
    guard rule(for: index) == nil else { return }
    rules.append((index...index, .timeStampCounterAuxiliary))
  }

  /// Adds IA32_PKRS, for a guest whose CPUID offers PKS.
  public mutating func offerSupervisorProtectionKeyRights() {
    let index = Self.supervisorProtectionKeyRights
    guard rule(for: index) == nil else { return }
    rules.append((index...index, .supervisorProtectionKeyRights))
  }

  @inline(__always)
  public func rule(for index: UInt32) -> Rule? {
    for entry in rules where entry.indices.contains(index) { return entry.rule }
    return nil
  }
}
