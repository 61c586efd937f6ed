/// Which values a guest may load into CR0, CR4 and EFER: the #GP(0) conditions of MOV to
/// CR (SDM Vol 2B "MOV—Move to/from Control Registers") and of WRMSR to EFER, with a CR4 or
/// EFER bit allowed only when the guest's CPUID offers the feature it controls (SDM Vol 3A
/// §2.5, APM Vol 2 §3.1.7). Derived once per VM from the CPUID policy's answers; the
/// handlers check every MOV to CR0/CR4 and WRMSR to EFER that exits before the backend
/// applies it.
public struct ControlRegisterRules: Equatable {
  /// CR4 bits the guest may set.
  public var allowedCR4: UInt64
  /// EFER bits the guest may set (LMA is the processor's: a written LMA is ignored).
  public var allowedEFER: UInt64

  public init(allowedCR4: UInt64, allowedEFER: UInt64 = baselineEFER) {
    self.allowedCR4 = allowedCR4
    self.allowedEFER = allowedEFER
  }

  // EFER bits (APM Vol 2 §3.1.7; SDM Vol 4 Table 2-2).
  public static let sce: UInt64 = 1 << 0
  public static let lme: UInt64 = 1 << 8
  public static let lma: UInt64 = 1 << 10
  public static let nxe: UInt64 = 1 << 11
  public static let lmsle: UInt64 = 1 << 13
  public static let ffxsr: UInt64 = 1 << 14
  public static let tce: UInt64 = 1 << 15
  /// What every x86-64 processor that runs a hypervisor has: SYSCALL, long mode, NX.
  public static let baselineEFER: UInt64 = sce | lme | lma | nxe

  // CR4 bits (SDM 3A §2.5).
  public static let vme: UInt64 = 1 << 0
  public static let pvi: UInt64 = 1 << 1
  public static let tsd: UInt64 = 1 << 2
  public static let de: UInt64 = 1 << 3
  public static let pse: UInt64 = 1 << 4
  public static let pae: UInt64 = 1 << 5
  public static let mce: UInt64 = 1 << 6
  public static let pge: UInt64 = 1 << 7
  public static let pce: UInt64 = 1 << 8
  public static let osfxsr: UInt64 = 1 << 9
  public static let osxmmexcpt: UInt64 = 1 << 10
  public static let umip: UInt64 = 1 << 11
  public static let la57: UInt64 = 1 << 12
  public static let vmxe: UInt64 = 1 << 13
  public static let smxe: UInt64 = 1 << 14
  public static let fsgsbase: UInt64 = 1 << 16
  public static let pcide: UInt64 = 1 << 17
  public static let osxsave: UInt64 = 1 << 18
  public static let smep: UInt64 = 1 << 20
  public static let smap: UInt64 = 1 << 21
  public static let pke: UInt64 = 1 << 22
  public static let cet: UInt64 = 1 << 23
  public static let pks: UInt64 = 1 << 24

  /// Bits with no CPUID flag of their own, present on every processor that runs a
  /// hypervisor: PCE (RDPMC at CPL > 0), OSXMMEXCPT (with SSE, which x86-64 has).
  static let unconditionalCR4: UInt64 = pce | osxmmexcpt

  /// Until a backend derives them from the host: the bits every x86-64 processor has.
  public static let baseline = ControlRegisterRules(
    allowedCR4: vme | pvi | tsd | de | pse | pae | mce | pge | pce | osfxsr | osxmmexcpt)

  /// The CR4 bits whose features the guest's CPUID (`cpuid`, the policy's answers) offers.
  /// VMXE and SMXE are never allowed: neither VMX nor SMX is virtualized, whatever CPUID
  /// says (VMXON and GETSEC raise #UD).
  public static func offered(by cpuid: (_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf)
    -> ControlRegisterRules
  {
    let leaf1 = cpuid(1, 0)
    let maximum = cpuid(0, 0).eax
    let leaf7 = maximum >= 7 ? cpuid(7, 0) : CPUIDLeaf()
    var allowed = unconditionalCR4
    func offer(_ bit: UInt64, if register: UInt32, _ flag: UInt32) {
      if register & (1 << flag) != 0 { allowed |= bit }
    }
    // CPUID.1:EDX: VME 1 (VME, PVI), DE 2, PSE 3, TSC 4 (TSD), PAE 6, MCE 7, PGE 13,
    // FXSR 24 (OSFXSR).
    offer(vme | pvi, if: leaf1.edx, 1)
    offer(de, if: leaf1.edx, 2)
    offer(pse, if: leaf1.edx, 3)
    offer(tsd, if: leaf1.edx, 4)
    offer(pae, if: leaf1.edx, 6)
    offer(mce, if: leaf1.edx, 7)
    offer(pge, if: leaf1.edx, 13)
    offer(osfxsr, if: leaf1.edx, 24)
    // CPUID.1:ECX: PCID 17, XSAVE 26 (OSXSAVE).
    offer(pcide, if: leaf1.ecx, 17)
    offer(osxsave, if: leaf1.ecx, 26)
    // CPUID.(7,0):EBX: FSGSBASE 0, SMEP 7, SMAP 20; ECX: UMIP 2, PKU 3, CET_SS 7, LA57 16,
    // PKS 31.
    offer(fsgsbase, if: leaf7.ebx, 0)
    offer(smep, if: leaf7.ebx, 7)
    offer(smap, if: leaf7.ebx, 20)
    offer(umip, if: leaf7.ecx, 2)
    offer(pke, if: leaf7.ecx, 3)
    offer(cet, if: leaf7.ecx, 7)
    offer(la57, if: leaf7.ecx, 16)
    offer(pks, if: leaf7.ecx, 31)
    return ControlRegisterRules(allowedCR4: allowed, allowedEFER: offeredEFER(by: cpuid))
  }

  /// The EFER bits whose features `cpuid` offers. A bit the guest's processor lacks is
  /// reserved and its write raises #GP; let through, it also fails the next VMRUN or VM
  /// entry. Never SVME (SVM is not virtualized) nor LMSLE: long-mode segment limits are not
  /// virtualized (as in KVM), QEMU does not implement them, and Intel has none.
  static func offeredEFER(by cpuid: (_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf) -> UInt64 {
    let extended = cpuid(0x8000_0000, 0).eax
    let leaf1 = extended >= 0x8000_0001 ? cpuid(0x8000_0001, 0) : CPUIDLeaf()
    var allowed = lma
    func offer(_ bit: UInt64, if register: UInt32, _ flag: UInt32) {
      if register & (1 << flag) != 0 { allowed |= bit }
    }
    // CPUID 8000_0001 EDX: SYSCALL 11, NX 20, FFXSR 25, LM 29; ECX: TCE 17 (APM Vol 3 E.4.2).
    offer(sce, if: leaf1.edx, 11)
    offer(nxe, if: leaf1.edx, 20)
    offer(ffxsr, if: leaf1.edx, 25)
    offer(lme, if: leaf1.edx, 29)
    offer(tce, if: leaf1.ecx, 17)
    return allowed
  }

  /// The guest's CPUID as the policy answers it on the host `cpuid` describes.
  public static func offered(
    byHost cpuid: (_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf
  ) -> ControlRegisterRules {
    offered(by: { leaf, subleaf in
      CPUIDPolicy.apply(leaf: leaf, subleaf: subleaf, host: cpuid(leaf, subleaf), vcpuIndex: 0)
    })
  }

  /// Whether MOV to CR0 of `value` is legal (SDM 2B MOV CR, #GP(0) conditions).
  /// `state` is the guest's state before the write.
  public func permitsCR0(_ value: UInt64, state: GuestMode) -> Bool {
    let pe: UInt64 = 1 << 0
    let wp: UInt64 = 1 << 16
    let nw: UInt64 = 1 << 29
    let cd: UInt64 = 1 << 30
    let pg: UInt64 = 1 << 31
    if value >> 32 != 0 { return false }  // bits 63:32 reserved
    if value & pg != 0 && value & pe == 0 { return false }
    if value & nw != 0 && value & cd == 0 { return false }
    let cr4 = state.cr4
    if value & pg == 0 {
      // Paging cannot be turned off in 64-bit mode, nor while PCIDE is set.
      if state.width == .long64 || cr4 & Self.pcide != 0 { return false }
    } else if state.cr0 & pg == 0 && state.efer & (1 << 8) != 0 && cr4 & Self.pae == 0 {
      return false  // activating IA-32e mode (EFER.LME) without PAE
    }
    if value & wp == 0 && cr4 & Self.cet != 0 { return false }
    return true
  }

  /// Whether MOV to CR4 of `value` is legal: only offered bits, and the mode rules
  /// (SDM 2B MOV CR #GP(0); SDM 3A §4.1.1, §4.10.1). `state.cr4` is the guest's view.
  public func permitsCR4(_ value: UInt64, state: GuestMode) -> Bool {
    if value & ~allowedCR4 != 0 { return false }
    let old = state.cr4
    let longMode = state.efer & (1 << 10) != 0  // EFER.LMA
    if longMode {
      if value & Self.pae == 0 { return false }  // PAE cannot be cleared in IA-32e mode
      if (value ^ old) & Self.la57 != 0 { return false }  // nor LA57 changed
    }
    if value & Self.pcide != 0 && old & Self.pcide == 0 {
      // PCIDE 0 -> 1 only in IA-32e mode, with CR3[11:0] = 0.
      if !longMode || state.cr3 & 0xFFF != 0 { return false }
    }
    if value & Self.cet != 0 && state.cr0 & (1 << 16) == 0 { return false }  // CET needs WP
    return true
  }
}
