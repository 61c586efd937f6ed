import CArch
import HypervisorCore
import VMX

/// A vCPU's architectural state out of and into its VMCS (VMXArchitecturalState). Called by
/// the calling CPU while the vCPU runs nowhere (between slices): the SYSCALL MSRs are then
/// in `syscallMSRs`, and the VMCS can be made current here. nil when the VMCS is active on
/// another CPU or cannot be loaded.
extension VMXGuest {
  func captureState(of vcpu: VirtualCPU, on cpu: PhysicalCPU) -> VCPUArchitecturalState? {
    guard load(vcpu: vcpu.index, on: cpu) else { return nil }
    var unheld = VMXUnheldState()
    let msrs = syscallMSRs[vcpu.index]
    unheld.star = msrs[0]
    unheld.lstar = msrs[1]
    unheld.cstar = msrs[2]
    unheld.sfmask = msrs[3]
    unheld.kernelGSBase = msrs[4]
    // No TPR shadow: CR8 is the local APIC's TPR[7:4] (SDM 3A §11.8.6.1). DR6 is not kept
    // across slices on VMX (docs/vm-state.md): its architectural reset value.
    unheld.cr8 = UInt64((vcpu.localAPIC?.save().taskPriority ?? 0) >> 4)
    return VMXArchitecturalState.capture(vmcs: CurrentVMCS(), vcpu: vcpu, unheld: unheld)
  }

  /// Under PAE paging the PDPTEs are read again from guest memory, as a MOV to CR3 would load
  /// them (SDM 3A §4.4.1). False when the VMCS cannot be loaded or a PDPTE is malformed.
  func applyState(
    _ state: VCPUArchitecturalState, to vcpu: VirtualCPU, on cpu: PhysicalCPU,
    capabilities: VMXCapabilities
  ) -> Bool {
    var pointers: PAEDirectoryPointers?
    if PAEDirectoryPointers.pagingInUse(cr0: state.cr0, cr4: state.cr4, efer: state.efer) {
      // MAXPHYADDR: CPUID.80000008H:EAX[7:0] (SDM 3A §4.1.4).
      let width = UInt8(truncatingIfNeeded: RealProcessor.cpuid(leaf: 0x8000_0008, subleaf: 0).eax)
      pointers = PAEDirectoryPointers.read(
        cr3: state.cr3, memory: vm.memory, physicalAddressBits: width == 0 ? 36 : width)
      if pointers == nil { return false }
    }
    guard load(vcpu: vcpu.index, on: cpu) else { return false }
    let unheld = VMXArchitecturalState.apply(
      state, to: CurrentVMCS(), vcpu: vcpu, capabilities: capabilities, paePointers: pointers)
    syscallMSRs[vcpu.index] = [
      unheld.star, unheld.lstar, unheld.cstar, unheld.sfmask, unheld.kernelGSBase,
    ]
    return true
  }
}
