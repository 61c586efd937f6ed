import HypervisorCore

/// The virtualization backend the bootstrap processor chose, as every other CPU enables it
/// for itself: SVM needs EFER.SVME, a host save area, a host VMCB and ASIDs per CPU
/// (APM Vol 2 §15.4, §15.30.4); VMX needs the CR0/CR4 fixed bits and a VMXON region per CPU
/// (SDM 3C §24.7, §24.8).
enum VirtualizationChoice {
  case amdV(SVMFeatures, commandLine: [UInt8])
  case intelVTx

  struct EnableFailure: Error {
    var message: StaticString
  }

  var name: StaticString {
    switch self {
    case .amdV: return "AMD-V"
    case .intelVTx: return "VT-x"
    }
  }

  /// Enables the backend on the calling CPU, CPU number `index`; the result is that CPU's
  /// processor object (SVMProcessor or VMXProcessor), for `PhysicalCPU.processor`.
  func enableOnThisCPU(index: Int) -> Result<AnyObject, EnableFailure> {
    switch self {
    case .amdV(let features, let commandLine):
      switch SVMProcessor.enable(features: features, commandLine: commandLine, processor: index) {
      case .success(let processor): return .success(processor)
      case .failure(let error): return .failure(EnableFailure(message: error.message))
      }
    case .intelVTx:
      switch VMXProcessor.enable(reporting: false) {
      case .success(let processor): return .success(processor)
      case .failure(let error): return .failure(EnableFailure(message: error.message))
      }
    }
  }
}
