/// The basic exit reasons, bits 15:0 of the exit-reason field (SDM 3C Appendix C,
/// Table C-1). Numbers 35, 38 and 42 are unused.
public enum VMXBasicExitReason: UInt16, CaseIterable {
  case exceptionOrNMI = 0
  case externalInterrupt = 1
  case tripleFault = 2
  case initSignal = 3
  case startupIPI = 4
  case ioSMI = 5
  case otherSMI = 6
  case interruptWindow = 7
  case nmiWindow = 8
  case taskSwitch = 9
  case cpuid = 10
  case getsec = 11
  case hlt = 12
  case invd = 13
  case invlpg = 14
  case rdpmc = 15
  case rdtsc = 16
  case rsm = 17
  case vmcall = 18
  case vmclear = 19
  case vmlaunch = 20
  case vmptrld = 21
  case vmptrst = 22
  case vmread = 23
  case vmresume = 24
  case vmwrite = 25
  case vmxoff = 26
  case vmxon = 27
  case controlRegisterAccess = 28
  case movDR = 29
  case ioInstruction = 30
  case rdmsr = 31
  case wrmsr = 32
  case entryFailureInvalidGuestState = 33
  case entryFailureMSRLoading = 34
  case mwait = 36
  case monitorTrapFlag = 37
  case monitor = 39
  case pause = 40
  case entryFailureMachineCheck = 41
  case tprBelowThreshold = 43
  case apicAccess = 44
  case virtualizedEOI = 45
  case gdtrOrIDTRAccess = 46
  case ldtrOrTRAccess = 47
  case eptViolation = 48
  case eptMisconfiguration = 49
  case invept = 50
  case rdtscp = 51
  case preemptionTimerExpired = 52
  case invvpid = 53
  case wbinvd = 54
  case xsetbv = 55
  case apicWrite = 56
  case rdrand = 57
  case invpcid = 58
  case vmfunc = 59
  case encls = 60
  case rdseed = 61
  case pageModificationLogFull = 62
  case xsaves = 63
  case xrstors = 64
  case pconfig = 65
  case sppRelatedEvent = 66
  case umwait = 67
  case tpause = 68
  case loadiwkey = 69

  /// The reason as Appendix C names it, for reports.
  public var name: StaticString {
    switch self {
    case .exceptionOrNMI: return "exception or NMI"
    case .externalInterrupt: return "external interrupt"
    case .tripleFault: return "triple fault"
    case .initSignal: return "INIT signal"
    case .startupIPI: return "start-up IPI (SIPI)"
    case .ioSMI: return "I/O system-management interrupt (SMI)"
    case .otherSMI: return "other SMI"
    case .interruptWindow: return "interrupt window"
    case .nmiWindow: return "NMI window"
    case .taskSwitch: return "task switch"
    case .cpuid: return "CPUID"
    case .getsec: return "GETSEC"
    case .hlt: return "HLT"
    case .invd: return "INVD"
    case .invlpg: return "INVLPG"
    case .rdpmc: return "RDPMC"
    case .rdtsc: return "RDTSC"
    case .rsm: return "RSM"
    case .vmcall: return "VMCALL"
    case .vmclear: return "VMCLEAR"
    case .vmlaunch: return "VMLAUNCH"
    case .vmptrld: return "VMPTRLD"
    case .vmptrst: return "VMPTRST"
    case .vmread: return "VMREAD"
    case .vmresume: return "VMRESUME"
    case .vmwrite: return "VMWRITE"
    case .vmxoff: return "VMXOFF"
    case .vmxon: return "VMXON"
    case .controlRegisterAccess: return "control-register access"
    case .movDR: return "MOV DR"
    case .ioInstruction: return "I/O instruction"
    case .rdmsr: return "RDMSR"
    case .wrmsr: return "WRMSR"
    case .entryFailureInvalidGuestState: return "VM-entry failure due to invalid guest state"
    case .entryFailureMSRLoading: return "VM-entry failure due to MSR loading"
    case .mwait: return "MWAIT"
    case .monitorTrapFlag: return "monitor trap flag"
    case .monitor: return "MONITOR"
    case .pause: return "PAUSE"
    case .entryFailureMachineCheck: return "VM-entry failure due to machine-check event"
    case .tprBelowThreshold: return "TPR below threshold"
    case .apicAccess: return "APIC access"
    case .virtualizedEOI: return "virtualized EOI"
    case .gdtrOrIDTRAccess: return "access to GDTR or IDTR"
    case .ldtrOrTRAccess: return "access to LDTR or TR"
    case .eptViolation: return "EPT violation"
    case .eptMisconfiguration: return "EPT misconfiguration"
    case .invept: return "INVEPT"
    case .rdtscp: return "RDTSCP"
    case .preemptionTimerExpired: return "VMX-preemption timer expired"
    case .invvpid: return "INVVPID"
    case .wbinvd: return "WBINVD or WBNOINVD"
    case .xsetbv: return "XSETBV"
    case .apicWrite: return "APIC write"
    case .rdrand: return "RDRAND"
    case .invpcid: return "INVPCID"
    case .vmfunc: return "VMFUNC"
    case .encls: return "ENCLS"
    case .rdseed: return "RDSEED"
    case .pageModificationLogFull: return "page-modification log full"
    case .xsaves: return "XSAVES"
    case .xrstors: return "XRSTORS"
    case .pconfig: return "PCONFIG"
    case .sppRelatedEvent: return "SPP-related event"
    case .umwait: return "UMWAIT"
    case .tpause: return "TPAUSE"
    case .loadiwkey: return "LOADIWKEY"
    }
  }
}
