/// Secondary processor-based VM-execution controls (SDM 3C §25.6.2; capabilities
/// Appendix A.3.3). They apply only while "activate secondary controls" is 1.
public enum SecondaryProcessorControl: UInt32, VMXControlBit {
  case virtualizeAPICAccesses = 0x0000_0001  // bit 0
  case enableEPT = 0x0000_0002  // bit 1
  case descriptorTableExiting = 0x0000_0004  // bit 2
  case enableRDTSCP = 0x0000_0008  // bit 3
  case virtualizeX2APIC = 0x0000_0010  // bit 4
  case enableVPID = 0x0000_0020  // bit 5
  case wbinvdExiting = 0x0000_0040  // bit 6
  case unrestrictedGuest = 0x0000_0080  // bit 7
  case apicRegisterVirtualization = 0x0000_0100  // bit 8
  case virtualInterruptDelivery = 0x0000_0200  // bit 9
  case pauseLoopExiting = 0x0000_0400  // bit 10
  case rdrandExiting = 0x0000_0800  // bit 11
  case enableINVPCID = 0x0000_1000  // bit 12
  case enableVMFunctions = 0x0000_2000  // bit 13
  case vmcsShadowing = 0x0000_4000  // bit 14
  case enableENCLSExiting = 0x0000_8000  // bit 15
  case rdseedExiting = 0x0001_0000  // bit 16
  case enablePML = 0x0002_0000  // bit 17
  case eptViolationVirtualizationException = 0x0004_0000  // bit 18
  case enableXSAVES = 0x0010_0000  // bit 20
  case modeBasedExecuteControl = 0x0040_0000  // bit 22
  case useTSCScaling = 0x0200_0000  // bit 25

  public var name: StaticString {
    switch self {
    case .virtualizeAPICAccesses: return "virtualize APIC accesses"
    case .enableEPT: return "EPT"
    case .descriptorTableExiting: return "descriptor-table exiting"
    case .enableRDTSCP: return "RDTSCP"
    case .virtualizeX2APIC: return "virtualize x2APIC mode"
    case .enableVPID: return "VPID"
    case .wbinvdExiting: return "WBINVD exiting"
    case .unrestrictedGuest: return "unrestricted guest"
    case .apicRegisterVirtualization: return "APIC-register virtualization"
    case .virtualInterruptDelivery: return "virtual-interrupt delivery"
    case .pauseLoopExiting: return "PAUSE-loop exiting"
    case .rdrandExiting: return "RDRAND exiting"
    case .enableINVPCID: return "INVPCID"
    case .enableVMFunctions: return "VM functions"
    case .vmcsShadowing: return "VMCS shadowing"
    case .enableENCLSExiting: return "ENCLS exiting"
    case .rdseedExiting: return "RDSEED exiting"
    case .enablePML: return "page-modification logging"
    case .eptViolationVirtualizationException: return "EPT-violation #VE"
    case .enableXSAVES: return "XSAVES/XRSTORS"
    case .modeBasedExecuteControl: return "mode-based execute control for EPT"
    case .useTSCScaling: return "TSC scaling"
    }
  }
}
