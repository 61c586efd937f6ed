/// Primary processor-based VM-execution controls (SDM 3C §25.6.2; capabilities
/// Appendix A.3.2).
public enum PrimaryProcessorControl: UInt32, VMXControlBit {
  case interruptWindowExiting = 0x0000_0004  // bit 2
  case useTSCOffsetting = 0x0000_0008  // bit 3
  case hltExiting = 0x0000_0080  // bit 7
  case invlpgExiting = 0x0000_0200  // bit 9
  case mwaitExiting = 0x0000_0400  // bit 10
  case rdpmcExiting = 0x0000_0800  // bit 11
  case rdtscExiting = 0x0000_1000  // bit 12
  case cr3LoadExiting = 0x0000_8000  // bit 15
  case cr3StoreExiting = 0x0001_0000  // bit 16
  case cr8LoadExiting = 0x0008_0000  // bit 19
  case cr8StoreExiting = 0x0010_0000  // bit 20
  case useTPRShadow = 0x0020_0000  // bit 21
  case nmiWindowExiting = 0x0040_0000  // bit 22
  case movDRExiting = 0x0080_0000  // bit 23
  case unconditionalIOExiting = 0x0100_0000  // bit 24
  case useIOBitmaps = 0x0200_0000  // bit 25
  case monitorTrapFlag = 0x0800_0000  // bit 27
  case useMSRBitmaps = 0x1000_0000  // bit 28
  case monitorExiting = 0x2000_0000  // bit 29
  case pauseExiting = 0x4000_0000  // bit 30
  case activateSecondaryControls = 0x8000_0000  // bit 31

  public var name: StaticString {
    switch self {
    case .interruptWindowExiting: return "interrupt-window exiting"
    case .useTSCOffsetting: return "TSC offsetting"
    case .hltExiting: return "HLT exiting"
    case .invlpgExiting: return "INVLPG exiting"
    case .mwaitExiting: return "MWAIT exiting"
    case .rdpmcExiting: return "RDPMC exiting"
    case .rdtscExiting: return "RDTSC exiting"
    case .cr3LoadExiting: return "CR3-load exiting"
    case .cr3StoreExiting: return "CR3-store exiting"
    case .cr8LoadExiting: return "CR8-load exiting"
    case .cr8StoreExiting: return "CR8-store exiting"
    case .useTPRShadow: return "TPR shadow"
    case .nmiWindowExiting: return "NMI-window exiting"
    case .movDRExiting: return "MOV-DR exiting"
    case .unconditionalIOExiting: return "unconditional I/O exiting"
    case .useIOBitmaps: return "I/O bitmaps"
    case .monitorTrapFlag: return "monitor trap flag"
    case .useMSRBitmaps: return "MSR bitmaps"
    case .monitorExiting: return "MONITOR exiting"
    case .pauseExiting: return "PAUSE exiting"
    case .activateSecondaryControls: return "secondary controls"
    }
  }
}
