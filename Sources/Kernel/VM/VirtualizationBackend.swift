import HypervisorCore
import Memory

/// What the scheduler needs of a vendor backend (SVM or VMX). The scheduler is generic over
/// it, so each backend's calls are direct. Per-CPU vendor state (the VMXON region, the SVM
/// host save area and ASIDs) lives in each `PhysicalCPU.processor`; the backend object holds
/// only what all CPUs share.
protocol VirtualizationBackend: AnyObject {
  associatedtype NestedFormat: WriteTrackableFormat
  static var name: StaticString { get }
  /// How an exit trace names this backend (docs/exit-trace.md).
  static var traceBackend: ExitTraceHeader.Backend { get }
  /// Sets up the vendor structures of a VM whose memory is mapped by `nestedRoot`. Runs on
  /// any CPU; leaves no vCPU state loaded on it.
  func admit(_ vm: VirtualMachine, nestedRoot: UInt64) -> Bool
  /// Runs `vcpu` on `cpu` (the calling CPU) until its slice ends.
  func run(_ vm: VirtualMachine, vcpu: VirtualCPU, on cpu: PhysicalCPU) -> SliceResult
  /// `vcpu` leaves `cpu` (the calling CPU, which ran it last): whatever the processor caches
  /// of it is written back, so another CPU may load it (VT-x: VMCLEAR, SDM 3C §24.11.1).
  func detach(_ vm: VirtualMachine, vcpu: VirtualCPU, from cpu: PhysicalCPU)
  /// Prints the vendor's view of a vCPU (exit information, control registers, segments).
  /// Runs on the CPU that ran it last.
  func dump(_ vm: VirtualMachine, vcpu: VirtualCPU)
  /// Sets `vcpu`'s TSC back by `cycles` (its TSC offset), after its VM was paused that long.
  /// Runs on `cpu`, the vCPU's own CPU, while the vCPU is parked (not in the guest).
  func shiftGuestTime(
    _ vm: VirtualMachine, vcpu: VirtualCPU, by cycles: UInt64, on cpu: PhysicalCPU)
  /// `vcpu`'s architectural state out of its VMCB or VMCS (docs/vm-state.md). Runs on `cpu`,
  /// the vCPU's own CPU, between slices (on VT-x the VMCS is current only there). nil when
  /// it cannot be read (a VMCS that does not load).
  func captureState(_ vm: VirtualMachine, vcpu: VirtualCPU, on cpu: PhysicalCPU)
    -> VCPUArchitecturalState?
  /// Puts `state` into `vcpu`'s VMCB or VMCS (docs/vm-state.md), its TSC offset already
  /// meant for this host. Runs on `cpu`, the vCPU's own CPU, while the vCPU is parked (an
  /// incoming VM's first unpark, docs/checkpoint.md). False when the backend cannot take it
  /// (a VMCS that does not load, a PAE PDPTE the guest memory does not hold).
  func applyState(
    _ vm: VirtualMachine, vcpu: VirtualCPU, state: VCPUArchitecturalState, on cpu: PhysicalCPU
  ) -> Bool
  /// Frees the VM's vendor structures once every vCPU is detached.
  func release(_ vm: VirtualMachine)
  /// Fault injection for the self-tests: leaves the VM's first vCPU in a state the vendor's
  /// VM-entry checks refuse, to prove entry failures are explained and contained.
  func corruptGuestState(_ vm: VirtualMachine)
}
