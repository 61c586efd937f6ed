/// What a guest learns from CPUID (docs/guest-abi.md): the host's answer, with the
/// hypervisor bit set, and only the features Peregrine backs: a feature bit passes only if
/// it is in an `offered...` mask below, so a feature a newer host adds stays hidden until
/// someone decides it is backed. A feature is backed when the instructions it enables run
/// in the guest and every MSR it implies has a rule in MSRPolicy (the table in
/// docs/guest-abi.md; GuestABIConsistencyTests checks the two policies against each other).
public enum CPUIDPolicy {
  public static let hypervisorLeafMaximum: UInt32 = 0x4000_0001
  public static let abiVersion: UInt32 = 1
  /// "Peregrine HV" as EBX, ECX, EDX.
  public static let signature: (UInt32, UInt32, UInt32) = (0x6572_6550, 0x6E69_7267, 0x5648_2065)

  /// Leaf 1 EDX (SDM 2A Table 3-11): FPU, VME, DE, PSE, TSC, MSR, PAE, MCE, CX8, (APIC 9,
  /// with a modelled local APIC), SEP, MTRR, PGE, MCA, CMOV, PAT, PSE-36, CLFSH, MMX, FXSR,
  /// SSE, SSE2, SS, HTT. Not: PSN (18), DS (21, IA32_DS_AREA), ACPI (22, thermal MSRs),
  /// TM (29), PBE (31).
  static let offeredLeaf1EDX: UInt32 = 0x1F8B_F9FF  // bits 0-8, 11-17, 19, 23-28
  /// Leaf 1 ECX (SDM 2A Table 3-10): SSE3, PCLMULQDQ, SSSE3, CX16, PCID, SSE4.1, SSE4.2,
  /// MOVBE, POPCNT, (x2APIC 21 and TSC-deadline 24, with a modelled local APIC), AES,
  /// RDRAND, and the
  /// hypervisor bit (31, always set). Not: DTES64 (2), MONITOR (3: MWAIT is intercepted),
  /// DS-CPL (4), VMX (5: no nesting), SMX (6), EST (7, IA32_PERF_CTL), TM2 (8), CNXT-ID (10),
  /// SDBG (11, IA32_DEBUG_INTERFACE), FMA (12), xTPR (14), PDCM (15,
  /// IA32_PERF_CAPABILITIES), DCA (18), XSAVE, OSXSAVE, AVX,
  /// F16C (26-29: XSETBV is not emulated).
  static let offeredLeaf1ECX: UInt32 = 0x42DA_2203  // bits 0, 1, 9, 13, 17, 19, 20, 22, 23, 25, 30
  /// Kept for callers that reason about what is hidden: every leaf 1 ECX bit not offered
  /// (x2APIC, TSC-deadline and the hypervisor bit are decided separately).
  static let hiddenLeaf1ECX: UInt32 = ~offeredLeaf1ECX & ~(1 << 21 | 1 << 24 | 1 << 31)

  /// Leaf 7.0 EBX (SDM 2A Table 3-8): FSGSBASE, BMI1, HLE, FDP_EXCPTN_ONLY, SMEP, BMI2,
  /// ERMS, INVPCID, RTM, FPU CS/DS deprecation, RDSEED, ADX, SMAP, CLFLUSHOPT, CLWB, SHA.
  /// Not: TSC_ADJUST (1, IA32_TSC_ADJUST), SGX (2), AVX2 and AVX-512 (XSAVE state), RDT-M
  /// and RDT-A (12, 15, PQR MSRs), MPX (14, BNDCFGS), Intel PT (25, RTIT MSRs).
  static let offeredLeaf7EBX: UInt32 = 0x219C_2FD9  // bits 0, 3, 4, 6-11, 13, 18-20, 23, 24, 29
  /// Leaf 7.0 ECX: PREFETCHWT1, UMIP, PKU (3: PKRU is switched per vCPU,
  /// GuestAuxiliaryRegisters), GFNI, LA57, RDPID (22: reads the vCPU's TSC_AUX), CLDEMOTE,
  /// MOVDIRI, MOVDIR64B, PKS (31: IA32_PKRS is per vCPU and switched like TSC_AUX). OSPKE
  /// (4) is not the host's: it mirrors the guest's CR4.PKE (SDM 2A Table 3-8), `osPKE`
  /// below. Not: the AVX-512/VAES families, WAITPKG (5, IA32_UMWAIT_CONTROL), CET_SS (7,
  /// CET MSRs), TME (13), MAWAU (17-21), Key Locker (23), ENQCMD (29, IA32_PASID), SGX_LC (30).
  static let offeredLeaf7ECX: UInt32 = 0x9A41_010D  // bits 0, 2, 3, 8, 16, 22, 25, 27, 28, 31
  /// Leaf 7.0 ECX bits: PKU, OSPKE, RDPID.
  public static let pku: UInt32 = 1 << 3
  public static let osPKE: UInt32 = 1 << 4
  public static let rdpid: UInt32 = 1 << 22
  /// Leaf 7.0 ECX bit 31: PKS, protection keys for supervisor pages (IA32_PKRS).
  public static let pks: UInt32 = 1 << 31
  /// Leaf 0x8000_0001 EDX bit 27: RDTSCP.
  public static let rdtscp: UInt32 = 1 << 27
  /// Leaf 7.0 EDX: FSRM, MD_CLEAR, RTM_ALWAYS_ABORT, SERIALIZE. Not: AVX-512/AMX, UINTR,
  /// TSX_FORCE_ABORT (13), hybrid (15), PCONFIG, Arch LBR, CET_IBT, the speculation controls
  /// (26-29, 31: SPEC_CTRL, PRED_CMD, FLUSH_CMD, ARCH_CAPABILITIES), CORE_CAPABILITIES (30).
  static let offeredLeaf7EDX: UInt32 = 0x0000_4C10  // bits 4, 10, 11, 14
  static let hiddenLeaf7EBX: UInt32 = ~offeredLeaf7EBX
  static let hiddenLeaf7ECX: UInt32 = ~offeredLeaf7ECX
  static let hiddenLeaf7EDX: UInt32 = ~offeredLeaf7EDX

  /// Leaf 0x8000_0001 ECX (APM Vol 3 E.4.2; SDM 2A): LahfSahf, CmpLegacy, AltMovCr8,
  /// ABM/LZCNT, SSE4A, MisAlignSse, 3DNowPrefetch, TCE, TopologyExtensions. Not: SVM (2),
  /// ExtApicSpace (3), OSVW (9, OSVW MSRs), IBS (10), XOP, FMA4, TBM (AVX-class), SKINIT
  /// (12), WDT (13), LWP (15), NodeId (19), PerfCtrExtCore (23: PERF_CTL/CTR 0xC001_0200-
  /// 020B), PerfCtrExtNB (24), DataBkptExt (26), PerfTsc (27), PerfCtrExtLLC (28),
  /// MONITORX (29), AddrMaskExt (30).
  static let offeredExtended1ECX: UInt32 = 0x0042_01F3  // bits 0, 1, 4-8, 17, 22
  /// Leaf 0x8000_0001 EDX: the leaf 1 mirrors (FPU ... PSE-36, APIC only with a model),
  /// SYSCALL, NX, MmxExt, MMX, FXSR, FFXSR, Page1GB, RDTSCP (27: the vCPU's TSC_AUX is
  /// loaded for its slices, GuestAuxiliaryRegisters), LM, 3DNowExt, 3DNow.
  static let offeredExtended1EDX: UInt32 = 0xEFD3_F9FF  // bits 0-8, 11-17, 20, 22-27, 29-31
  /// Leaf 0x8000_0008 EBX (APM Vol 3 E.4.7): CLZERO, RstrFpErrPtrs, WBNOINVD,
  /// EferLmsleUnsupported, SsbdNotRequired, BTC_NO. Not: IRPerf (1, MSR 0xC000_00E9),
  /// INVLPGB (3), RDPRU (4), MBE, MCOMMIT, the speculation controls and their hints (12-19,
  /// 24, 25, 28, 30), PPIN (23), CPPC (27).
  static let offeredExtended8EBX: UInt32 = 0x2410_0205  // bits 0, 2, 9, 20, 26, 29
  static let hiddenExtended8EBX: UInt32 = ~offeredExtended8EBX

  /// `osPKE`: the guest's CR4.PKE, which leaf 7's OSPKE reports where PKU is offered.
  @inline(__always)
  public static func apply(
    leaf: UInt32, subleaf: UInt32, host: CPUIDLeaf, vcpuIndex: Int, hasLocalAPIC: Bool = false,
    vcpuCount: Int = 1, osPKE: Bool = false, localAPICEnabled: Bool = true
  ) -> CPUIDLeaf {
    var result = host
    // APIC (leaf 1 and 0x8000_0001 EDX bit 9) and TSC-deadline (leaf 1 ECX bit 24) only
    // where the local APIC is modelled (it implements TSC-deadline). The APIC bit reads 0
    // while IA32_APIC_BASE.EN is clear (SDM 3A §11.4.3; APM Vol 3 E.3.2: "APIC exists and
    // is enabled"): `localAPICEnabled`.
    let apic: UInt32 = hasLocalAPIC && localAPICEnabled ? 1 << 9 : 0
    switch leaf {
    case 0x1:
      // ECX[31] hypervisor present (SDM 2A Table 3-10).
      result.ecx = result.ecx & offeredLeaf1ECX | (1 << 31)
      if hasLocalAPIC { result.ecx |= 1 << 21 | 1 << 24 }
      result.edx &= offeredLeaf1EDX | apic
      // EBX[31:24] initial APIC ID: the vCPU's index (the MADT's APIC ID). EBX[23:16]: the
      // addressable logical processor IDs of the package (meaningful with HTT, EDX 28):
      // the IDs leaf 0xB's package level spans.
      let addressable = min(UInt32(1) << topologyShift(vcpuCount), 0xFF)
      result.ebx =
        result.ebx & 0x0000_FFFF | UInt32(truncatingIfNeeded: vcpuIndex) << 24 | addressable << 16
    case 0x4:
      // Deterministic cache parameters (SDM 2A): EAX[31:26] is the addressable core IDs of
      // the package minus 1, as leaf 0xB's core level spans them; the caches are the host's.
      if result.eax & 0x1F != 0 {
        let cores = min(UInt32(1) << topologyShift(vcpuCount), 64) - 1
        result.eax = result.eax & 0x03FF_FFFF | cores << 26
      }
    case 0xB, 0x1F:
      result = topologyLeaf(subleaf: subleaf, vcpuIndex: vcpuIndex, vcpuCount: vcpuCount)
    case 0x5, 0xA, 0xF, 0x10, 0x12, 0x14, 0x19, 0x1B:
      // MONITOR/MWAIT (hidden), architectural performance monitoring (no PMU: its MSRs
      // IA32_PMCx, PERFEVTSELx, fixed counters #GP), RDT monitoring and allocation, SGX,
      // processor trace, Key Locker, PCONFIG: none offered.
      result = CPUIDLeaf()
    case 0x6:
      // Thermal and power management: only ARAT (EAX 2), where the local APIC is modelled
      // (its timer runs on the guest clock in every state). No DTS, HWP, turbo, APERF/MPERF
      // (ECX 0) or energy-performance bias (ECX 3): their MSRs are not virtualized.
      result = CPUIDLeaf(eax: hasLocalAPIC ? 1 << 2 : 0)
    case 0x7:
      if subleaf == 0 {
        // EAX: the highest subleaf. Only subleaf 0 is offered. OSPKE: the guest's CR4.PKE,
        // which it can set only where PKU is offered (ControlRegisterRules).
        let ecx = result.ecx & offeredLeaf7ECX
        result = CPUIDLeaf(
          eax: 0, ebx: result.ebx & offeredLeaf7EBX,
          ecx: osPKE && ecx & pku != 0 ? ecx | Self.osPKE : ecx,
          edx: result.edx & offeredLeaf7EDX)
      } else {
        result = CPUIDLeaf()
      }
    case 0xD:
      result = CPUIDLeaf()  // XSAVE state components: none offered
    case 0x4000_0000:
      result = CPUIDLeaf(
        eax: hypervisorLeafMaximum, ebx: signature.0, ecx: signature.1, edx: signature.2)
    case 0x4000_0001:
      result = CPUIDLeaf(eax: abiVersion)
    case ParavirtualEOI.leafBase where hasLocalAPIC:
      // KVM's interface, for its paravirtual EOI only (ParavirtualEOI): the signature Linux
      // looks for, the highest leaf of the block in EAX.
      let kvm = ParavirtualEOI.signature
      result = CPUIDLeaf(eax: ParavirtualEOI.leafBase + 1, ebx: kvm.0, ecx: kvm.1, edx: kvm.2)
    case ParavirtualEOI.leafBase + 1 where hasLocalAPIC:
      result = CPUIDLeaf(eax: ParavirtualEOI.feature)  // EDX: no hints
    case 0x4000_0002...0x4FFF_FFFF:
      result = CPUIDLeaf()
    case 0x8000_0001:
      result.ecx &= offeredExtended1ECX
      result.edx &= offeredExtended1EDX | apic
    case 0x8000_0007:
      // Only invariant TSC (EDX 8): the guest's TSC is the host's plus an offset. No RAS
      // capabilities (EBX: no MCA banks), no power reporting, P-state or boost MSRs.
      result = CPUIDLeaf(edx: result.edx & 1 << 8)
    case 0x8000_0008:
      result.ebx &= offeredExtended8EBX
      // ECX (APM Vol 3 E.4.7): NC (7:0) = cores - 1 and ApicIdSize (15:12), the core ID
      // bits of the APIC ID, for the VM's vCPUs as cores of one package.
      result.ecx =
        result.ecx & ~0xF0FF | topologyShift(vcpuCount) << 12
        | UInt32(truncatingIfNeeded: max(vcpuCount, 1) - 1) & 0xFF
    case 0x8000_001E:
      // TopologyExtensions (APM Vol 3 E.4.15): extended APIC ID, core ID = vCPU index with
      // one thread per core (EBX[15:8] = 0), one node (ECX: node 0, one node per package).
      let id = UInt32(truncatingIfNeeded: vcpuIndex)
      result = CPUIDLeaf(eax: id, ebx: id & 0xFF, ecx: 0, edx: 0)
    case 0x8000_000A, 0x8000_001B, 0x8000_001F, 0x8000_0020, 0x8000_0022:
      // SVM features, IBS, memory encryption (SEV_STATUS), platform QoS, PerfMonV2: none.
      result = CPUIDLeaf()
    default:
      break
    }
    return result
  }

  /// Whether the guest's CPUID offers RDTSCP or RDPID, the two instructions that read
  /// IA32_TSC_AUX: then the MSR exists for the guest and is switched per vCPU.
  public static func offersTimeStampCounterAuxiliary(
    host cpuid: (_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf
  ) -> Bool {
    let extended = cpuid(0x8000_0000, 0).eax
    let rdtscpOffered =
      extended >= 0x8000_0001 && cpuid(0x8000_0001, 0).edx & offeredExtended1EDX & rdtscp != 0
    let rdpidOffered = cpuid(0, 0).eax >= 7 && cpuid(7, 0).ecx & offeredLeaf7ECX & rdpid != 0
    return rdtscpOffered || rdpidOffered
  }

  /// Whether the guest's CPUID offers PKU: then PKRU is switched per vCPU and leaf 7 follows
  /// the guest's CR4.PKE (OSPKE).
  public static func offersProtectionKeys(
    host cpuid: (_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf
  ) -> Bool {
    cpuid(0, 0).eax >= 7 && cpuid(7, 0).ecx & offeredLeaf7ECX & pku != 0
  }

  /// Whether the guest's CPUID offers PKS: then IA32_PKRS exists and is switched per vCPU.
  public static func offersSupervisorProtectionKeys(
    host cpuid: (_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf
  ) -> Bool {
    cpuid(0, 0).eax >= 7 && cpuid(7, 0).ecx & offeredLeaf7ECX & pks != 0
  }

  /// Bits of the x2APIC ID that number the cores of the package: enough for `vcpuCount`.
  static func topologyShift(_ vcpuCount: Int) -> UInt32 {
    let count = UInt32(max(vcpuCount, 1))
    return count <= 1 ? 0 : UInt32(32 - (count - 1).leadingZeroBitCount)
  }

  /// Leaves 0xB and 0x1F (SDM 2A CPUID, "Extended Topology Enumeration"): every vCPU is one
  /// core with one thread, all in one package, so guests find the MADT's IDs. Subleaf 0:
  /// SMT level (type 1), one thread, shift 0; subleaf 1: core level (type 2), `vcpuCount`
  /// cores, shift wide enough for them; then the invalid level (type 0). EDX: x2APIC ID.
  static func topologyLeaf(subleaf: UInt32, vcpuIndex: Int, vcpuCount: Int) -> CPUIDLeaf {
    let id = UInt32(truncatingIfNeeded: vcpuIndex)
    switch subleaf {
    case 0: return CPUIDLeaf(eax: 0, ebx: 1, ecx: 1 << 8, edx: id)
    case 1:
      return CPUIDLeaf(
        eax: topologyShift(vcpuCount), ebx: UInt32(truncatingIfNeeded: vcpuCount),
        ecx: 2 << 8 | 1, edx: id)
    default: return CPUIDLeaf(eax: 0, ebx: 0, ecx: subleaf & 0xFF, edx: id)
    }
  }
}
