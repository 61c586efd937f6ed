/// Intercept bits of the VMCB control area (APM Vol 2 Appendix B, Table B-1): the CR
/// vector at offset 0x00, the vector at offset 0x0C and the one at 0x10.
public enum SVMIntercept {
  // Offset 0x00: reads of CRn in bit n, writes of CRn in bit 16 + n.
  public static func writeCR(_ number: UInt32) -> UInt32 { 1 << (16 + number) }

  /// Writes to CR0 and CR4 exit before the value reaches the VMCB, so
  /// ControlRegisterRules can refuse, with #GP(0), CR4 bits whose features CPUID does not
  /// offer (OSXSAVE, VMXE, ...), reserved bits, and the invalid CR0 combinations (APM Vol 2
  /// §15.9). The whole CR0 write intercept, not the selective one: QEMU's SVM lets a MOV
  /// to CR0 with bits 63:32 set past the selective intercept and drops them, and NW
  /// without CD reaches the VMCB, where the next VMRUN fails. Entering or leaving long mode
  /// through CR0.PG then updates EFER.LMA in the backend. CR3 stays the guest's own (it
  /// changes often and holds no feature bits).
  public static let peregrineCR: UInt32 = writeCR(0) | writeCR(4)

  // Offset 0x0C.
  public static let intr: UInt32 = 1 << 0
  public static let nmi: UInt32 = 1 << 1
  public static let smi: UInt32 = 1 << 2
  public static let initSignal: UInt32 = 1 << 3
  public static let vintr: UInt32 = 1 << 4
  /// Selective CR0 write: MOV to CR0 or LMSW that changes a bit other than TS and MP.
  public static let cr0SelectiveWrite: UInt32 = 1 << 5
  public static let rdtsc: UInt32 = 1 << 14
  public static let rdpmc: UInt32 = 1 << 15
  public static let cpuid: UInt32 = 1 << 18
  /// Set only while the guest handles an injected NMI (NMIBlocking, APM §15.21.4).
  public static let iret: UInt32 = 1 << 20
  public static let invd: UInt32 = 1 << 22
  public static let pause: UInt32 = 1 << 23
  public static let hlt: UInt32 = 1 << 24
  public static let invlpga: UInt32 = 1 << 26
  public static let ioioProtection: UInt32 = 1 << 27
  public static let msrProtection: UInt32 = 1 << 28
  public static let taskSwitch: UInt32 = 1 << 29
  public static let shutdown: UInt32 = 1 << 31
  // Offset 0x10.
  public static let vmrun: UInt32 = 1 << 0
  public static let vmmcall: UInt32 = 1 << 1
  public static let vmload: UInt32 = 1 << 2
  public static let vmsave: UInt32 = 1 << 3
  public static let stgi: UInt32 = 1 << 4
  public static let clgi: UInt32 = 1 << 5
  public static let skinit: UInt32 = 1 << 6
  public static let rdtscp: UInt32 = 1 << 7
  public static let wbinvd: UInt32 = 1 << 9
  public static let monitor: UInt32 = 1 << 10
  public static let mwait: UInt32 = 1 << 11
  public static let xsetbv: UInt32 = 1 << 13

  /// What Peregrine intercepts, and why:
  /// - INTR, NMI: physical interrupts belong to the host (time slices, host devices);
  ///   the guest gets its own virtual ones by injection.
  /// - SMI, INIT: never let firmware or a reset signal act on the guest's state unseen.
  /// - CPUID: the policy hides SVM/VMX and advertises the hypervisor.
  /// - HLT: a halted vCPU gives its core back (and a halt with IF = 0 ends it).
  /// - INVD: would discard dirty cache lines of host memory; WBINVD is emulated as a no-op.
  /// - IOIO, MSR protection: ports and MSRs go through the device table and the MSR policy
  ///   (the permission maps decide which ones exit).
  /// - Task switch: not emulated; stop rather than run with a wrong TSS.
  /// - Shutdown: a triple fault must end the VM, not reset the machine.
  /// - VMRUN (required by the architecture), VMMCALL (hypercalls), VMLOAD, VMSAVE, STGI,
  ///   CLGI, SKINIT, INVLPGA: SVM is hidden; these raise #UD through the exception path.
  /// - MONITOR, MWAIT: would sleep the physical core; XSETBV: XSAVE is not offered.
  /// - RDTSCP: CPUID hides it (TSC_AUX is not switched): #UD. RDPMC: no counters are
  ///   offered, #GP(0) for any index (and no host counter reaches the guest).
  /// Not intercepted: RDTSC (the TSC offset virtualizes it with no exit), PAUSE.
  public static let peregrineMisc1: UInt32 =
    intr | nmi | smi | initSignal | rdpmc | cpuid | invd | hlt | invlpga | ioioProtection
    | msrProtection | taskSwitch | shutdown
  public static let peregrineMisc2: UInt32 =
    vmrun | vmmcall | vmload | vmsave | stgi | clgi | skinit | wbinvd | monitor | mwait | xsetbv
}
