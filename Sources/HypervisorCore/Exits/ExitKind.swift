/// A small dense index for each exit reason, for per-reason statistics arrays: the
/// counters are indexed by `rawValue`, so counting an exit costs an add, not a lookup.
public enum ExitKind: UInt8, CaseIterable {
  case cpuid, msrRead, msrWrite, portIO, halt, hypercall, nestedPageFault
  case externalInterrupt, nmi, interruptWindow, exception, controlRegisterAccess
  case shutdown, initSignal, startupIPI, preemptionTimer, xsetbv, invalidateCaches
  case entryFailure, unknown
  /// Added after the guest ABI fixed the others' numbers (docs/guest-abi.md): 20.
  case pause
  /// 21: a guest write to a page the dirty log protects (docs/migration.md), served by the
  /// run loop before any handler: counted apart so tracking's cost shows.
  case dirtyLog

  public static let count = allCases.count

  public var name: StaticString {
    switch self {
    case .cpuid: return "cpuid"
    case .msrRead: return "rdmsr"
    case .msrWrite: return "wrmsr"
    case .portIO: return "io"
    case .halt: return "hlt"
    case .pause: return "pause"
    case .dirtyLog: return "dirty"
    case .hypercall: return "hypercall"
    case .nestedPageFault: return "npf"
    case .externalInterrupt: return "extint"
    case .nmi: return "nmi"
    case .interruptWindow: return "intwin"
    case .exception: return "exception"
    case .controlRegisterAccess: return "cr"
    case .shutdown: return "shutdown"
    case .initSignal: return "init"
    case .startupIPI: return "sipi"
    case .preemptionTimer: return "timer"
    case .xsetbv: return "xsetbv"
    case .invalidateCaches: return "wbinvd"
    case .entryFailure: return "entryfail"
    case .unknown: return "unknown"
    }
  }
}

extension ExitReason {
  public var kind: ExitKind {
    switch self {
    case .cpuid: return .cpuid
    case .msrRead: return .msrRead
    case .msrWrite: return .msrWrite
    case .portIO: return .portIO
    case .halt: return .halt
    case .pause: return .pause
    case .hypercall: return .hypercall
    case .nestedPageFault: return .nestedPageFault
    case .externalInterrupt: return .externalInterrupt
    case .nmi: return .nmi
    case .interruptWindow: return .interruptWindow
    case .exception: return .exception
    case .controlRegisterAccess: return .controlRegisterAccess
    case .shutdown: return .shutdown
    case .initSignal: return .initSignal
    case .startupIPI: return .startupIPI
    case .preemptionTimer: return .preemptionTimer
    case .xsetbv: return .xsetbv
    case .invalidateCaches: return .invalidateCaches
    case .entryFailure: return .entryFailure
    case .unknown: return .unknown
    }
  }
}

extension ExitReason {
  /// Exits the guest's own instructions caused, as opposed to the host's interrupts and
  /// time slices: only these count toward an exit storm.
  public var isGuestCaused: Bool {
    switch self {
    case .externalInterrupt, .nmi, .interruptWindow, .preemptionTimer: return false
    default: return true
    }
  }
}
