/// VM-entry controls (SDM 3C §25.8.1; capabilities Appendix A.5).
public enum EntryControl: UInt32, VMXControlBit {
  case loadDebugControls = 0x0000_0004  // bit 2
  case ia32eModeGuest = 0x0000_0200  // bit 9: set per guest state at entry, not in the plan
  case entryToSMM = 0x0000_0400  // bit 10
  case loadPerfGlobalCtrl = 0x0000_2000  // bit 13
  case loadPAT = 0x0000_4000  // bit 14
  case loadEFER = 0x0000_8000  // bit 15

  public var name: StaticString {
    switch self {
    case .loadDebugControls: return "load debug controls"
    case .ia32eModeGuest: return "IA-32e mode guest"
    case .entryToSMM: return "entry to SMM"
    case .loadPerfGlobalCtrl: return "load IA32_PERF_GLOBAL_CTRL on entry"
    case .loadPAT: return "load IA32_PAT on entry"
    case .loadEFER: return "load IA32_EFER on entry"
    }
  }
}
