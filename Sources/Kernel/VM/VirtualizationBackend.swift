import HypervisorCore
import Memory

/// What the scheduler needs of a vendor backend (SVM or VMX). The scheduler is generic over
/// it, so each backend's calls are direct.
protocol VirtualizationBackend: AnyObject {
  associatedtype NestedFormat: PageTableFormat
  static var name: StaticString { get }
  /// Sets up the vendor structures of a VM whose memory is mapped by `nestedRoot`.
  func admit(_ vm: VirtualMachine, nestedRoot: UInt64) -> Bool
  func run(_ vm: VirtualMachine, vcpu: VirtualCPU) -> SliceResult
  /// Prints the vendor's view of a vCPU (exit information, control registers, segments).
  func dump(_ vm: VirtualMachine, vcpu: VirtualCPU)
  func release(_ vm: VirtualMachine)
  /// Fault injection for the self-tests: leaves the VM's first vCPU in a state the vendor's
  /// VM-entry checks refuse, to prove entry failures are explained and contained.
  func corruptGuestState(_ vm: VirtualMachine)
}
