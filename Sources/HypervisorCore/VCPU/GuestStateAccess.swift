/// The vendor contract: what handlers may ask of guest state that lives in the VMCB (SVM) or
/// the VMCS (VMX). The dispatcher is generic over it, so each backend's calls are
/// specialized and inlined, with no dynamic dispatch on the exit path. Tests pass a fake.
public protocol GuestStateAccess {
  /// Execution mode, control registers and segment bases, read on demand (instruction
  /// fetch and decode need them; most exits do not).
  func mode() -> GuestMode
  /// The linear address of RIP and the address space it is in: three fields, read on
  /// every exit whose instruction length the hardware did not report.
  func instructionFetchKey(rip: UInt64) -> InstructionFetchKey
  /// Current privilege level (hypercalls are refused above CPL 0).
  var privilegeLevel: UInt8 { get }
  /// MSRs the vendor keeps in its guest state (EFER, PAT, the SYSCALL and SYSENTER MSRs,
  /// FS/GS bases). nil: this vendor does not hold that MSR.
  func readStateMSR(_ index: UInt32) -> UInt64?
  /// Returns false when the vendor does not hold that MSR.
  mutating func writeStateMSR(_ index: UInt32, _ value: UInt64) -> Bool
  /// A control register as the guest sees it (its read shadow where the host owns bits).
  func readControlRegister(_ number: UInt8) -> UInt64
  /// MOV to CR0/CR3/CR4 that exited because it touched bits the host owns. Returns false for
  /// a value the processor would refuse (the handler injects #GP).
  mutating func writeControlRegister(_ number: UInt8, _ value: UInt64) -> Bool
  /// Whether this backend holds the PAE PDPTEs in its guest state, loaded at VM entry (VT-x
  /// with EPT, SDM 3C §27.3.2.4), so that a MOV to CR0/CR3/CR4 the handler applies must load
  /// them (SDM 3A §4.4.1). false where the processor reads them from guest memory itself.
  var holdsPAEPointers: Bool { get }
  /// The PDPTEs a handled MOV to CR0/CR3/CR4 loaded, after it was applied; only called
  /// when `holdsPAEPointers`.
  mutating func loadPAEPointers(_ pointers: PAEDirectoryPointers)
  /// CPUID as the host processor answers it; the CPUID policy edits the result.
  func hostCPUID(leaf: UInt32, subleaf: UInt32) -> CPUIDLeaf
  /// The guest's view of the time-stamp counter (host TSC plus the vCPU's offset).
  func guestTimeStampCounter() -> UInt64
  /// What the processor adds to the host TSC for this vCPU (VMCB TSC_OFFSET, VMCS TSC
  /// offset), modulo 2^64: 0 until the guest writes its TSC.
  var timeStampCounterOffset: UInt64 { get }
  /// Sets the guest's CR2 where the vendor's guest state holds it, before a #PF is injected:
  /// the processor loads CR2 only for faults it takes itself (SDM Vol 3A §4.7; APM Vol 2
  /// §8.4.2). SVM: the VMCB's CR2. VMX: nothing, since CR2 is not in the VMCS; the world
  /// switch carries it in the register file (`VirtualCPU.faultAddress`), which the caller sets.
  mutating func setFaultAddress(_ linear: UInt64)
  /// WRMSR IA32_TSC: sets this vCPU's offset so that its TSC reads `value` now.
  mutating func setGuestTimeStampCounter(_ value: UInt64)
  /// The vCPU's exit statistics, as hypercall 2 reports them: the vCPU's own (default
  /// below); a traced exit records them, a replay answers with the recorded ones.
  func exitStatistics(of vcpu: VirtualCPU) -> ExitStatistics
}

extension GuestStateAccess {
  @inline(__always)
  public func exitStatistics(of vcpu: VirtualCPU) -> ExitStatistics { vcpu.statistics }
}
