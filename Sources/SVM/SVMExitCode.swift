/// #VMEXIT codes (APM Vol 2 Appendix C, Table C-1).
public enum SVMExitCode {
  public static let readCR0: UInt64 = 0x00
  public static let writeCR0: UInt64 = 0x10
  public static let exceptionBase: UInt64 = 0x40
  public static let intr: UInt64 = 0x60
  public static let nmi: UInt64 = 0x61
  public static let smi: UInt64 = 0x62
  public static let initSignal: UInt64 = 0x63
  public static let vintr: UInt64 = 0x64
  public static let cr0SelectiveWrite: UInt64 = 0x65
  public static let rdpmc: UInt64 = 0x6F
  public static let cpuid: UInt64 = 0x72
  public static let iret: UInt64 = 0x74
  public static let invd: UInt64 = 0x76
  public static let hlt: UInt64 = 0x78
  public static let pause: UInt64 = 0x77
  public static let ioio: UInt64 = 0x7B
  public static let msr: UInt64 = 0x7C
  public static let taskSwitch: UInt64 = 0x7D
  public static let shutdown: UInt64 = 0x7F
  public static let invlpga: UInt64 = 0x7A
  public static let vmrun: UInt64 = 0x80
  public static let vmmcall: UInt64 = 0x81
  public static let vmload: UInt64 = 0x82
  public static let vmsave: UInt64 = 0x83
  public static let stgi: UInt64 = 0x84
  public static let clgi: UInt64 = 0x85
  public static let skinit: UInt64 = 0x86
  public static let rdtscp: UInt64 = 0x87
  public static let wbinvd: UInt64 = 0x89
  public static let monitor: UInt64 = 0x8A
  public static let mwait: UInt64 = 0x8B
  public static let xsetbv: UInt64 = 0x8D
  public static let nestedPageFault: UInt64 = 0x400
  /// VMEXIT_INVALID (-1): VMRUN's consistency checks failed. QEMU reports it as
  /// 0x0000_0000_FFFF_FFFF, so compare the low 32 bits.
  public static let invalid: UInt64 = 0xFFFF_FFFF_FFFF_FFFF

  public static func name(_ code: UInt64) -> StaticString {
    switch code {
    case 0x00...0x0F: return "CR read"
    case 0x10...0x1F: return "CR write"
    case 0x40...0x5F: return "exception"
    case intr: return "INTR"
    case nmi: return "NMI"
    case smi: return "SMI"
    case initSignal: return "INIT"
    case vintr: return "VINTR"
    case cpuid: return "CPUID"
    case iret: return "IRET"
    case invd: return "INVD"
    case hlt: return "HLT"
    case pause: return "PAUSE"
    case ioio: return "IOIO"
    case msr: return "MSR"
    case taskSwitch: return "task switch"
    case shutdown: return "shutdown"
    case vmrun: return "VMRUN"
    case vmmcall: return "VMMCALL"
    case rdpmc: return "RDPMC"
    case cr0SelectiveWrite: return "CR0 selective write"
    case rdtscp: return "RDTSCP"
    case wbinvd: return "WBINVD"
    case xsetbv: return "XSETBV"
    case nestedPageFault: return "nested page fault"
    default: return code & 0xFFFF_FFFF == 0xFFFF_FFFF ? "VMEXIT_INVALID" : "other"
    }
  }
}
