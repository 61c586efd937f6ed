import CArch
import HypervisorCore
import SVM

/// SVM on this processor (APM Vol 2 §15.4): refused when the firmware disabled it
/// (VM_CR.SVMDIS), then EFER.SVME set and a host save area registered. Holds the tags and
/// pages every VM on this CPU shares.
final class SVMProcessor {
  static let vmCR: UInt32 = 0xC001_0114
  static let hostSaveAreaMSR: UInt32 = 0xC001_0117
  static let efer: UInt32 = 0xC000_0080

  enum EnableError: Error {
    case disabledByFirmware
    case outOfMemory

    var message: StaticString {
      switch self {
      case .disabledByFirmware:
        return "SVM is disabled by the firmware (VM_CR.SVMDIS is set): enable SVM in the BIOS setup"
      case .outOfMemory: return "no memory for the SVM host save area"
      }
    }
  }

  let features: SVMFeatures
  let hostSaveArea: UInt64
  /// The host's VMSAVE/VMLOAD area around each VMRUN.
  let hostVMCB: UInt64
  var asids: IdentifierPool

  private init(features: SVMFeatures, hostSaveArea: UInt64, hostVMCB: UInt64) {
    self.features = features
    self.hostSaveArea = hostSaveArea
    self.hostVMCB = hostVMCB
    asids = IdentifierPool(first: 1, limit: features.asidCount)
  }

  static func enable(features: SVMFeatures) -> Result<SVMProcessor, EnableError> {
    // VM_CR bit 4 SVMDIS: EFER.SVME cannot be set (APM §15.30.1).
    if arch_rdmsr(vmCR) & (1 << 4) != 0 { return .failure(.disabledByFirmware) }
    arch_wrmsr(efer, arch_rdmsr(efer) | 1 << 12)
    guard let save = PhysicalFrames.allocateZeroed(), let host = PhysicalFrames.allocateZeroed()
    else {
      return .failure(.outOfMemory)
    }
    arch_wrmsr(hostSaveAreaMSR, save)
    return .success(SVMProcessor(features: features, hostSaveArea: save, hostVMCB: host))
  }
}
