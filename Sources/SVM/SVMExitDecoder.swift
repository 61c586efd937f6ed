import HypervisorCore

/// Turns the exit information the VMCB holds (EXITCODE, EXITINFO1/2, next RIP) into the
/// vendor-neutral `VMExit` (APM Vol 2 §15.6, §15.10.2, §15.25.6).
public enum SVMExitDecoder {
  /// The frequent exits, small enough to be inlined into the run loop across modules (the
  /// optimizer stops carrying a larger body over: docs/exit-path.md); the rest out of line.
  @inline(__always)
  public static func decode(_ vmcb: VMCB, nextRIPSave: Bool) -> VMExit {
    let code = vmcb.u64(VMCBOffset.exitCode)
    switch code {
    case SVMExitCode.cpuid:
      return VMExit(reason: .cpuid, instructionLength: length(vmcb, nextRIPSave))
    case SVMExitCode.ioio: return decodeIO(vmcb)
    case SVMExitCode.vmmcall:
      return VMExit(reason: .hypercall, instructionLength: length(vmcb, nextRIPSave))
    case SVMExitCode.msr:
      // EXITINFO1: 0 for RDMSR, 1 for WRMSR.
      let isWrite = vmcb.u64(VMCBOffset.exitInfo1) & 1 != 0
      return VMExit(
        reason: isWrite ? .msrWrite : .msrRead, instructionLength: length(vmcb, nextRIPSave))
    case SVMExitCode.nestedPageFault:
      // Only here does it matter whether the exit interrupted an event's delivery: the
      // access may be the processor's own (IDT, GDT, TSS, stack), not the instruction's.
      return VMExit(
        reason: .nestedPageFault(decodeNestedPageFault(vmcb)),
        interruptedEventVector: interruptedVector(vmcb))
    case SVMExitCode.intr: return VMExit(reason: .externalInterrupt)
    default: return decodeOther(vmcb, code: code, nextRIPSave: nextRIPSave)
    }
  }

  @inline(__always)
  static func length(_ vmcb: VMCB, _ nextRIPSave: Bool) -> UInt8? {
    nextRIPSave ? instructionLength(vmcb) : nil
  }

  /// Every other exit code.
  @inline(never)
  static func decodeOther(_ vmcb: VMCB, code: UInt64, nextRIPSave: Bool) -> VMExit {
    let length = nextRIPSave ? instructionLength(vmcb) : nil
    switch code {
    case SVMExitCode.hlt: return VMExit(reason: .halt, instructionLength: length)
    case SVMExitCode.pause: return VMExit(reason: .pause, instructionLength: length)
    // The SMI stays pending and the host's firmware takes it once GIF is set again.
    case SVMExitCode.smi: return VMExit(reason: .externalInterrupt)
    case SVMExitCode.nmi: return VMExit(reason: .nmi)
    case SVMExitCode.vintr: return VMExit(reason: .interruptWindow)
    // IRET intercepted while an NMI handler runs: the NMI window is about to open; the run
    // loop's interrupt delivery reads the exit code (NMIBlocking).
    case SVMExitCode.iret: return VMExit(reason: .interruptWindow)
    case SVMExitCode.shutdown: return VMExit(reason: .shutdown)
    case SVMExitCode.initSignal: return VMExit(reason: .initSignal)
    case SVMExitCode.invd, SVMExitCode.wbinvd:
      return VMExit(reason: .invalidateCaches, instructionLength: length)
    case SVMExitCode.xsetbv: return VMExit(reason: .xsetbv, instructionLength: length)
    case SVMExitCode.vmrun, SVMExitCode.invlpga, SVMExitCode.vmload, SVMExitCode.vmsave,
      SVMExitCode.stgi,
      SVMExitCode.clgi, SVMExitCode.skinit, SVMExitCode.monitor, SVMExitCode.mwait,
      SVMExitCode.rdtscp:
      // SVM and MONITOR are hidden from guests: these instructions are undefined for them.
      // RDTSCP is not intercepted (SVMIntercept.peregrineMisc2); should it exit, #UD.
      return VMExit(reason: .exception(vector: 6, errorCode: nil))
    case SVMExitCode.rdpmc:
      // No performance counters are offered: every index is invalid, #GP(0).
      return VMExit(reason: .exception(vector: 13, errorCode: 0))
    case SVMExitCode.exceptionBase...(SVMExitCode.exceptionBase + 31):
      let vector = UInt8(code - SVMExitCode.exceptionBase)
      let errorCode =
        PendingEvent.exceptionHasErrorCode(vector)
        ? UInt32(truncatingIfNeeded: vmcb.u64(VMCBOffset.exitInfo1)) : nil
      return VMExit(reason: .exception(vector: vector, errorCode: errorCode))
    case SVMExitCode.readCR0...(SVMExitCode.writeCR0 + 15):
      let isWrite = code >= SVMExitCode.writeCR0
      // With decode assists EXITINFO1 bit 63 says the GPR number in bits 3:0 is valid.
      let info = vmcb.u64(VMCBOffset.exitInfo1)
      return VMExit(
        reason: .controlRegisterAccess(
          ControlRegisterAccess(
            register: UInt8(code & 0xF), kind: isWrite ? .write : .read,
            generalRegister: info >> 63 != 0
              ? UInt8(info & 0xF) : ControlRegisterHandler.unknownRegister)),
        instructionLength: length)
    case SVMExitCode.cr0SelectiveWrite:
      // MOV to CR0 or LMSW; EXITINFO1 bit 63 (decode assists) names the MOV's register.
      let info = vmcb.u64(VMCBOffset.exitInfo1)
      return VMExit(
        reason: .controlRegisterAccess(
          ControlRegisterAccess(
            register: 0, kind: .write,
            generalRegister: info >> 63 != 0
              ? UInt8(info & 0xF) : ControlRegisterHandler.unknownRegister)),
        instructionLength: length)
    default:
      if code & 0xFFFF_FFFF == 0xFFFF_FFFF { return VMExit(reason: .entryFailure(code: code)) }
      return VMExit(reason: .unknown(vendorCode: code))
    }
  }

  /// EXITINTINFO (APM Vol 2 §15.7.2): bit 31 valid, bits 7:0 the vector whose delivery the
  /// exit interrupted. Read for nested page faults only, the exits whose handling it decides:
  /// the other exits do not pay for it.
  @inline(__always)
  public static func interruptedVector(_ vmcb: VMCB) -> UInt8? {
    let interrupted = vmcb.u64(VMCBOffset.exitInterruptInfo)
    return interrupted & SVMEventInjection.valid != 0 ? UInt8(truncatingIfNeeded: interrupted) : nil
  }

  /// NRIPS: the next sequential RIP minus the current RIP (APM §15.7.1).
  @inline(__always)
  static func instructionLength(_ vmcb: VMCB) -> UInt8? {
    let next = vmcb.u64(VMCBOffset.nextRIP)
    let rip = vmcb.u64(VMCBOffset.rip)
    guard next > rip, next - rip <= 15 else { return nil }
    return UInt8(next - rip)
  }

  /// IOIO EXITINFO1 (APM Vol 2 §15.10.2, Figure 15-2): bit 0 IN, bit 2 string, bit 3 REP,
  /// bits 6:4 operand size (one-hot 1/2/4 bytes), bits 31:16 port. EXITINFO2 holds the RIP
  /// of the next instruction, with or without NRIPS.
  static func decodeIO(_ vmcb: VMCB) -> VMExit {
    let info = vmcb.u64(VMCBOffset.exitInfo1)
    let size: UInt8 = info & (1 << 6) != 0 ? 4 : (info & (1 << 5) != 0 ? 2 : 1)
    let access = PortAccess(
      port: UInt16(truncatingIfNeeded: info >> 16), size: size,
      direction: info & 1 != 0 ? .read : .write,
      isString: info & (1 << 2) != 0, isRepeated: info & (1 << 3) != 0)
    let next = vmcb.u64(VMCBOffset.exitInfo2)
    let rip = vmcb.u64(VMCBOffset.rip)
    let length: UInt8? = next > rip && next - rip <= 15 ? UInt8(next - rip) : nil
    return VMExit(reason: .portIO(access), instructionLength: length)
  }

  /// Nested page fault (APM §15.25.6): EXITINFO1 is a page-fault error code (bit 0 the
  /// page was present, bit 1 write, bit 4 instruction fetch); EXITINFO2 the guest-physical
  /// address.
  static func decodeNestedPageFault(_ vmcb: VMCB) -> NestedPageFault {
    let error = vmcb.u64(VMCBOffset.exitInfo1)
    let access: NestedPageFault.Access =
      error & (1 << 4) != 0 ? .instructionFetch : (error & (1 << 1) != 0 ? .write : .read)
    return NestedPageFault(
      guestPhysical: vmcb.u64(VMCBOffset.exitInfo2), access: access, wasMapped: error & 1 != 0)
  }
}
