import HypervisorCore
import Memory
import SVM

/// A vCPU's architectural state out of and into its VMCB (SVMArchitecturalState). Called
/// by the CPU that owns the vCPU at a safe point (between exits, requests drained), or
/// while the vCPU runs nowhere: the VMCB is plain memory between VMRUNs.
extension SVMGuest {
  func captureState(of vcpu: VirtualCPU) -> VCPUArchitecturalState {
    SVMArchitecturalState.capture(vmcb: vmcb(of: vcpu), vcpu: vcpu)
  }

  func applyState(_ state: VCPUArchitecturalState, to vcpu: VirtualCPU) {
    SVMArchitecturalState.apply(state, to: vmcb(of: vcpu), vcpu: vcpu)
  }

  private func vmcb(of vcpu: VirtualCPU) -> VMCB {
    VMCB(base: IdentityMappedMemory().pointer(to: vmcbs[vcpu.index]))
  }
}
