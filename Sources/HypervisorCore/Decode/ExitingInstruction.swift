/// Which instructions cause an instruction-intercept exit: the check that the bytes the
/// hypervisor reads at RIP are the instruction the processor executed (they differ when
/// the guest changed its page tables without INVLPG and runs the old page from its TLB).
public enum ExitingInstruction {
  /// What three bytes at RIP say about `reason`.
  public enum QuickCheck: Equatable {
    /// The unprefixed encoding of an instruction that causes this exit, this long.
    case length(UInt8)
    /// A prefix or a form with a ModRM operand: needs the full decoder.
    case undecided
    /// No instruction starting with these bytes causes this exit.
    case mismatch
  }

  /// The instruction intercepts whose bytes are checked (SDM 2B opcode map; APM Vol 2
  /// §15.9-15.14 for the intercepts).
  public enum Kind: Equatable {
    case cpuid, msrRead, msrWrite, hypercall, halt, invalidateCaches, xsetbv, controlRegister
    /// PAUSE: F3 90 (REP NOP).
    case pause
  }

  /// The exit path's check: a couple of compares on the first bytes.
  @inline(__always)
  public static func quickCheck(_ reason: Kind, _ b0: UInt8, _ b1: UInt8, _ b2: UInt8)
    -> QuickCheck
  {
    if b0 == 0x0F {
      switch reason {
      case .cpuid: return b1 == 0xA2 ? .length(2) : .mismatch
      case .msrRead: return b1 == 0x32 ? .length(2) : .mismatch
      case .msrWrite: return b1 == 0x30 ? .length(2) : .mismatch
      case .invalidateCaches: return b1 == 0x08 || b1 == 0x09 ? .length(2) : .mismatch
      // VMMCALL (0F 01 D9); VMCALL (0F 01 C1) too, the same hypercall in the same length.
      case .hypercall: return b1 == 0x01 && (b2 == 0xD9 || b2 == 0xC1) ? .length(3) : .mismatch
      case .xsetbv: return b1 == 0x01 && b2 == 0xD1 ? .length(3) : .mismatch
      case .controlRegister:
        // MOV from/to CR (0F 20, 0F 22: ModRM is always a register, three bytes), CLTS
        // (0F 06); LMSW/SMSW (0F 01 /6, /4) may take a memory operand.
        if b1 == 0x20 || b1 == 0x22 { return .length(3) }
        if b1 == 0x06 { return .length(2) }
        return b1 == 0x01 && isMachineStatusWord(b2) ? .undecided : .mismatch
      case .halt, .pause: return .mismatch
      }
    }
    if b0 == 0xF3 && b1 == 0x90 { return reason == .pause ? .length(2) : .mismatch }
    if b0 == 0xF4 { return reason == .halt ? .length(1) : .mismatch }
    return isPrefix(b0) ? .undecided : .mismatch
  }

  /// Group 7 (0F 01) ModRM.reg 4 (SMSW) or 6 (LMSW), Table A-6.
  @inline(__always)
  static func isMachineStatusWord(_ modRM: UInt8) -> Bool {
    let reg = (modRM >> 3) & 7
    return reg == 4 || reg == 6
  }

  /// Legacy prefixes and the bytes that are REX in 64-bit mode (SDM Vol 2 §2.1.1, §2.2.1).
  @inline(__always)
  static func isPrefix(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x40...0x4F:
      return true
    default:
      return false
    }
  }

  /// The full check: legal prefixes, then an opcode that causes `reason`.
  public static func matches(
    _ reason: Kind, _ bytes: InstructionBytes, width: GuestMode.Width
  )
    -> Bool
  {
    var cursor = InstructionCursor(bytes)
    do throws(InstructionFetchError) {
      _ = try InstructionPrefixes.read(from: &cursor, width: width)
      let b0 = try cursor.next()
      if b0 == 0xF4 { return reason == .halt }
      // PAUSE: REP (F3) among the prefixes, then 90.
      if b0 == 0x90 { return reason == .pause }
      guard b0 == 0x0F else { return false }
      let b1 = try cursor.next()
      let b2 = b1 == 0x01 ? try cursor.peek() : 0
      if case .length = quickCheck(reason, 0x0F, b1, b2) { return true }
      // LMSW (0F 01 /6) and SMSW (0F 01 /4) for a CR0 access.
      if reason == .controlRegister, b1 == 0x01 { return isMachineStatusWord(b2) }
      return false
    } catch {
      return false
    }
  }
}
