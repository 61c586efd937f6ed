/// The VM-instruction error numbers that VMfailValid leaves in the `instructionError`
/// field (SDM 3C §31.4, Table 31-1).
public enum VMInstructionError: UInt32, CaseIterable {
  case vmcallInRootOperation = 1
  case vmclearInvalidAddress = 2
  case vmclearVMXONPointer = 3
  case vmlaunchNonClearVMCS = 4
  case vmresumeNonLaunchedVMCS = 5
  case vmresumeAfterVMXOFF = 6
  case entryInvalidControlFields = 7
  case entryInvalidHostStateFields = 8
  case vmptrldInvalidAddress = 9
  case vmptrldVMXONPointer = 10
  case vmptrldIncorrectRevision = 11
  case unsupportedVMCSComponent = 12
  case vmwriteReadOnlyComponent = 13
  case vmxonInRootOperation = 15
  case entryInvalidExecutiveVMCSPointer = 16
  case entryNonLaunchedExecutiveVMCS = 17
  case entryExecutiveVMCSPointerNotVMXONPointer = 18
  case vmcallNonClearVMCS = 19
  case vmcallInvalidExitControls = 20
  case vmcallIncorrectMSEGRevision = 22
  case vmxoffUnderDualMonitor = 23
  case vmcallInvalidSMMMonitorFeatures = 24
  case entryInvalidExecutiveExecutionControls = 25
  case entryEventsBlockedByMOVSS = 26
  case invalidINVEPTOrINVVPIDOperand = 28

  /// Table 31-1's description.
  public var summary: StaticString {
    switch self {
    case .vmcallInRootOperation: return "VMCALL executed in VMX root operation"
    case .vmclearInvalidAddress: return "VMCLEAR with invalid physical address"
    case .vmclearVMXONPointer: return "VMCLEAR with VMXON pointer"
    case .vmlaunchNonClearVMCS: return "VMLAUNCH with non-clear VMCS"
    case .vmresumeNonLaunchedVMCS: return "VMRESUME with non-launched VMCS"
    case .vmresumeAfterVMXOFF: return "VMRESUME after VMXOFF"
    case .entryInvalidControlFields: return "VM entry with invalid control field(s)"
    case .entryInvalidHostStateFields: return "VM entry with invalid host-state field(s)"
    case .vmptrldInvalidAddress: return "VMPTRLD with invalid physical address"
    case .vmptrldVMXONPointer: return "VMPTRLD with VMXON pointer"
    case .vmptrldIncorrectRevision: return "VMPTRLD with incorrect VMCS revision identifier"
    case .unsupportedVMCSComponent: return "VMREAD/VMWRITE from/to unsupported VMCS component"
    case .vmwriteReadOnlyComponent: return "VMWRITE to read-only VMCS component"
    case .vmxonInRootOperation: return "VMXON executed in VMX root operation"
    case .entryInvalidExecutiveVMCSPointer: return "VM entry with invalid executive-VMCS pointer"
    case .entryNonLaunchedExecutiveVMCS: return "VM entry with non-launched executive VMCS"
    case .entryExecutiveVMCSPointerNotVMXONPointer:
      return "VM entry with executive-VMCS pointer not VMXON pointer"
    case .vmcallNonClearVMCS: return "VMCALL with non-clear VMCS"
    case .vmcallInvalidExitControls: return "VMCALL with invalid VM-exit control fields"
    case .vmcallIncorrectMSEGRevision: return "VMCALL with incorrect MSEG revision identifier"
    case .vmxoffUnderDualMonitor: return "VMXOFF under dual-monitor treatment of SMIs and SMM"
    case .vmcallInvalidSMMMonitorFeatures: return "VMCALL with invalid SMM-monitor features"
    case .entryInvalidExecutiveExecutionControls:
      return "VM entry with invalid VM-execution control fields in executive VMCS"
    case .entryEventsBlockedByMOVSS: return "VM entry with events blocked by MOV SS"
    case .invalidINVEPTOrINVVPIDOperand: return "invalid operand to INVEPT/INVVPID"
    }
  }
}
