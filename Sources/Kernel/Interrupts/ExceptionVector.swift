/// Architectural exception vectors (SDM 3A Table 6-1).
enum ExceptionVector {
  static let divideError = 0
  static let debug = 1
  static let nonMaskableInterrupt = 2
  static let breakpoint = 3
  static let invalidOpcode = 6
  static let doubleFault = 8
  static let generalProtection = 13
  static let pageFault = 14
  static let machineCheck = 18

  static func name(_ vector: UInt64) -> StaticString {
    switch vector {
    case 0: return "#DE divide error"
    case 1: return "#DB debug"
    case 2: return "NMI"
    case 3: return "#BP breakpoint"
    case 4: return "#OF overflow"
    case 5: return "#BR bound range"
    case 6: return "#UD invalid opcode"
    case 7: return "#NM device not available"
    case 8: return "#DF double fault"
    case 10: return "#TS invalid TSS"
    case 11: return "#NP segment not present"
    case 12: return "#SS stack fault"
    case 13: return "#GP general protection"
    case 14: return "#PF page fault"
    case 16: return "#MF x87 floating point"
    case 17: return "#AC alignment check"
    case 18: return "#MC machine check"
    case 19: return "#XM SIMD floating point"
    case 20: return "#VE virtualization"
    case 21: return "#CP control protection"
    case 30: return "#SX security"
    default: return vector < 32 ? "reserved exception" : "interrupt"
    }
  }
}
