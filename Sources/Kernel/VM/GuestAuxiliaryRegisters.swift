import CArch
import HypervisorCore

/// IA32_TSC_AUX, PKRU and IA32_PKRS: guest registers that neither the VMCB nor the VMCS
/// holds (Peregrine sets no "load PKRS" control) and that the guest reads without exiting:
/// RDTSCP and RDPID read TSC_AUX, RDPKRU and the paging checks PKRU, the paging checks PKRS.
/// WRPKRU writes PKRU without exiting; only WRMSR, which exits, writes TSC_AUX and PKRS.
/// Peregrine itself uses none of them (it runs with CR4.PKE = CR4.PKS = 0, so a guest's
/// values left in the registers have no effect on it), so the processor keeps the guest's
/// values across every exit, and they are switched once per slice: loaded when a vCPU's
/// slice starts and, for PKRU, saved when it ends. Another vCPU or VM on this CPU then never
/// sees them: each slice starts by loading its own (SDM 3A §4.6.2; APM Vol 2 §15.5: VMRUN
/// switches none of them). A VM whose CPUID offers none of the features pays nothing: its
/// guests cannot read the registers (RDTSCP and RDPID raise #UD, RDPKRU needs CR4.PKE and
/// PKRS CR4.PKS, which ControlRegisterRules refuses, and RDMSR of the MSRs #GPs).
///
/// Why per slice and not per entry (the VMX MSR-load areas or a WRMSR around each
/// VMRUN): the hot exit path stays as it was (docs/exit-path.md). A WRMSR exit that changes
/// TSC_AUX or PKRS, and a restored state, load again before the next entry
/// (`VirtualCPU.markAuxiliaryRegistersStale`, through the request check every entry makes).
///
/// PKRU is read and written with RDPKRU and WRPKRU, which need the host's CR4.PKE. The host
/// runs with CR4.PKE = 0: with it set, the guest's PKRU would guard every host data access
/// to a page whose paging entries all have U/S = 1 (SDM 3A §4.6.2), and the host's tables
/// do not promise none has. So CR4.PKE is set just around the two instructions; the guest's
/// PKRU stays in the register while the host runs, without effect there. XSAVE's PKRU
/// component is not used: the host saves the floating-point state with FXSAVE, and guests
/// are not offered XSAVE.
enum GuestAuxiliaryRegisters {
  static let pke: UInt64 = 1 << 22

  /// At the start of a slice, and before an entry after `markAuxiliaryRegistersStale`.
  @inline(never)
  static func load(_ vcpu: VirtualCPU, vm: VirtualMachine) {
    vcpu.auxiliaryRegistersStale = false
    if vm.switchesTimeStampCounterAuxiliary {
      arch_wrmsr(MSRPolicy.timeStampCounterAuxiliary, vcpu.timeStampCounterAuxiliary)
    }
    if vm.switchesSupervisorProtectionKeyRights {
      arch_wrmsr(
        MSRPolicy.supervisorProtectionKeyRights, UInt64(vcpu.supervisorProtectionKeyRights))
    }
    if vm.switchesProtectionKeyRights {
      let cr4 = arch_read_cr4()
      arch_write_cr4(cr4 | pke)
      arch_wrpkru(vcpu.protectionKeyRights)
      arch_write_cr4(cr4)
    }
  }

  /// At the end of a slice: PKRU as the guest left it. Not when the vCPU's value is newer
  /// than the processor's (a restore applied while it was loaded).
  @inline(never)
  static func save(_ vcpu: VirtualCPU, vm: VirtualMachine) {
    guard vm.switchesProtectionKeyRights, !vcpu.auxiliaryRegistersStale else { return }
    let cr4 = arch_read_cr4()
    arch_write_cr4(cr4 | pke)
    vcpu.protectionKeyRights = arch_rdpkru()
    arch_write_cr4(cr4)
  }
}
