import CArch
import HypervisorCore
import VMX

/// VMX on this processor (SDM 3C §24.7, §24.8): IA32_FEATURE_CONTROL checked (and locked
/// with VMX enabled when the firmware left it unlocked), CR0/CR4 fixed bits applied,
/// VMXON. Holds the capabilities, the controls every VMCS on this CPU uses, and the VPIDs.
final class VMXProcessor {
  static let featureControl: UInt32 = 0x3A

  enum EnableError: Error {
    case lockedOff
    case outOfMemory
    case vmxonFailed
    case controlsUnavailable

    var message: StaticString {
      switch self {
      case .lockedOff:
        return
          "VMX is locked off by the firmware (IA32_FEATURE_CONTROL): enable VT-x in the BIOS setup"
      case .outOfMemory: return "no memory for the VMXON region"
      case .vmxonFailed: return "VMXON failed"
      case .controlsUnavailable:
        return "this processor lacks VMX controls Peregrine requires (EPT, unrestricted guest)"
      }
    }
  }

  let capabilities: VMXCapabilities
  let controls: VMXControlPlan
  let vmxonRegion: UInt64
  let vpidEnabled: Bool
  /// What guests may load into CR0/CR4: the CPUID policy's features, narrowed to VMX's.
  let guestControlRegisterRules: ControlRegisterRules

  private init(capabilities: VMXCapabilities, controls: VMXControlPlan, vmxonRegion: UInt64) {
    self.capabilities = capabilities
    self.controls = controls
    self.vmxonRegion = vmxonRegion
    guestControlRegisterRules = capabilities.restricting(
      ControlRegisterRules.offered(byHost: GuestVisibleCPUID.cpuid))
    vpidEnabled = controls.secondary.contains(SecondaryProcessorControl.enableVPID.rawValue)
  }

  /// Runs on every CPU for itself; `reporting` names missing controls (the bootstrap
  /// processor does, the others have the same ones).
  static func enable(reporting: Bool = true) -> Result<VMXProcessor, EnableError> {
    // IA32_FEATURE_CONTROL: bit 0 lock, bit 2 VMXON outside SMX (SDM 3C §24.7).
    var control = arch_rdmsr(featureControl)
    if control & 1 == 0 {
      control |= 1 << 2 | 1
      arch_wrmsr(featureControl, control)
      Log.info("vmx: IA32_FEATURE_CONTROL was unlocked; locked with VMX enabled")
    } else if control & (1 << 2) == 0 {
      return .failure(.lockedOff)
    }
    let capabilities = VMXCapabilities.read(using: { arch_rdmsr($0) })
    let offersINVPCID = guestOffersINVPCID()
    let offersRDTSCP = CPUIDPolicy.offersTimeStampCounterAuxiliary(host: RealProcessor.cpuid)
    let controls = VMXControlPlan.peregrineDefault(
      caps: capabilities, offersINVPCID: offersINVPCID, offersRDTSCP: offersRDTSCP)
    if reporting {
      report(controls)
      GuestVisibleCPUID.withholding = controls.cpuidWithholding(
        offersRDTSCP: offersRDTSCP, offersINVPCID: offersINVPCID)
    }
    let secondary = controls.secondary
    guard secondary.contains(SecondaryProcessorControl.enableEPT.rawValue),
      secondary.contains(SecondaryProcessorControl.unrestrictedGuest.rawValue)
    else { return .failure(.controlsUnavailable) }

    arch_write_cr0(capabilities.fixingCR0(arch_read_cr0()))
    arch_write_cr4(capabilities.fixingCR4(arch_read_cr4() | 1 << 13))
    guard let region = PhysicalFrames.allocateZeroed() else { return .failure(.outOfMemory) }
    IdentityMappedMemory().pointer(to: region).storeBytes(
      of: capabilities.revision, as: UInt32.self)
    guard arch_vmxon(region) else { return .failure(.vmxonFailed) }
    return .success(
      VMXProcessor(capabilities: capabilities, controls: controls, vmxonRegion: region))
  }

  /// CPUID.(7,0):EBX bit 10 as the policy answers guests.
  static func guestOffersINVPCID() -> Bool {
    guard RealProcessor.cpuid(leaf: 0, subleaf: 0).eax >= 7 else { return false }
    let leaf = CPUIDPolicy.apply(
      leaf: 7, subleaf: 0, host: RealProcessor.cpuid(leaf: 7, subleaf: 0), vcpuIndex: 0)
    return leaf.ebx & (1 << 10) != 0
  }

  /// Names every control Peregrine asked for and did not get.
  static func report(_ controls: VMXControlPlan) {
    let missing = controls.allUnavailable
    if missing.isEmpty {
      Log.info("vmx: every requested VMX control is available")
      return
    }
    for name in missing {
      Log.begin(.warning)
      Console.write("vmx: control not available on this processor: ")
      Console.write(name)
      Log.end()
    }
  }
}
