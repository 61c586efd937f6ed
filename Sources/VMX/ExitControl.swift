/// VM-exit controls (SDM 3C §25.7.1; capabilities Appendix A.4).
public enum ExitControl: UInt32, VMXControlBit {
  case saveDebugControls = 0x0000_0004  // bit 2
  case hostAddressSpaceSize = 0x0000_0200  // bit 9: the host runs in 64-bit mode
  case loadPerfGlobalCtrl = 0x0000_1000  // bit 12
  case acknowledgeInterruptOnExit = 0x0000_8000  // bit 15
  case savePAT = 0x0004_0000  // bit 18
  case loadPAT = 0x0008_0000  // bit 19
  case saveEFER = 0x0010_0000  // bit 20
  case loadEFER = 0x0020_0000  // bit 21
  case savePreemptionTimer = 0x0040_0000  // bit 22

  public var name: StaticString {
    switch self {
    case .saveDebugControls: return "save debug controls"
    case .hostAddressSpaceSize: return "host address-space size"
    case .loadPerfGlobalCtrl: return "load IA32_PERF_GLOBAL_CTRL on exit"
    case .acknowledgeInterruptOnExit: return "acknowledge interrupt on exit"
    case .savePAT: return "save IA32_PAT"
    case .loadPAT: return "load IA32_PAT on exit"
    case .saveEFER: return "save IA32_EFER"
    case .loadEFER: return "load IA32_EFER on exit"
    case .savePreemptionTimer: return "save VMX-preemption timer value"
    }
  }
}
