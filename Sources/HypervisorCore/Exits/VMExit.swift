/// One VM exit, decoded from the VMCB (SVM) or the VMCS (VMX) into a vendor-neutral value
/// before dispatch, so every handler is written once for both vendors.
public struct VMExit: Equatable {
  public var reason: ExitReason
  /// Length of the exiting instruction when the hardware reports it: VMX's VM-exit
  /// instruction-length field, SVM's next RIP (NRIPS) or EXITINFO2 for IOIO. `nil` means
  /// the hypervisor must decode the instruction at RIP itself (SVM without NRIPS).
  public var instructionLength: UInt8?
  /// The vector of the event (exception, interrupt, NMI, software interrupt) whose delivery
  /// the exit interrupted: SVM EXITINTINFO valid (APM Vol 2 §15.7.2), VMX IDT-vectoring
  /// information valid (SDM 3C §28.2.4). The exit is then the processor's own access while
  /// delivering it (IDT, GDT, TSS, stack), not the instruction at RIP; the run loops deliver
  /// the event again on the next entry. nil: no delivery was under way. The decoders fill it
  /// in for nested page faults, the exits whose handling it decides.
  public var interruptedEventVector: UInt8?

  public init(
    reason: ExitReason, instructionLength: UInt8? = nil, interruptedEventVector: UInt8? = nil
  ) {
    self.reason = reason
    self.instructionLength = instructionLength
    self.interruptedEventVector = interruptedEventVector
  }
}

/// Why the guest left. Cases carry what the vendor's exit information already decoded
/// (exit qualification on VMX, EXITINFO1/2 on SVM).
public enum ExitReason: Equatable {
  case cpuid
  /// RDMSR; the index is in the guest's ECX.
  case msrRead
  /// WRMSR; the index is in ECX and the value in EDX:EAX.
  case msrWrite
  case portIO(PortAccess)
  case halt
  /// PAUSE, intercepted only while the vCPU shares its core: a spin-wait loop gives the
  /// core to the vCPU it may be waiting for.
  case pause
  /// VMCALL (VMX) or VMMCALL (SVM): the hypercall ABI in docs/hypercalls.md.
  case hypercall
  case nestedPageFault(NestedPageFault)
  /// A physical interrupt arrived for the host while the guest ran.
  case externalInterrupt
  case nmi
  /// The guest can take an interrupt now (interrupt-window / VINTR exit).
  case interruptWindow
  /// An intercepted guest exception.
  case exception(vector: UInt8, errorCode: UInt32?)
  case controlRegisterAccess(ControlRegisterAccess)
  /// Triple fault (VMX) or shutdown (SVM): the guest is dead.
  case shutdown
  /// INIT signal received (VMX INIT exit, SVM INIT intercept).
  case initSignal
  case startupIPI(vector: UInt8)
  /// The hypervisor's own time slice or preemption timer ran out.
  case preemptionTimer
  /// XSETBV, INVD, WBINVD and other instructions the hypervisor executes for the guest.
  case xsetbv
  case invalidateCaches
  /// VM entry failed its checks; `code` is vendor specific (VMX basic exit reason with
  /// the entry-failure bit, or SVM VMEXIT_INVALID).
  case entryFailure(code: UInt64)
  /// Any exit the decoder does not know: stop the VM and dump it, never guess.
  case unknown(vendorCode: UInt64)
}

/// An I/O instruction (IN, OUT, INS, OUTS), as VMX exit qualification (SDM 3C Table 28-5)
/// and SVM EXITINFO1 (APM Vol 2 §15.10.2) describe it.
public struct PortAccess: Equatable {
  public enum Direction: Equatable { case read, write }
  public var port: UInt16
  /// 1, 2 or 4 bytes.
  public var size: UInt8
  public var direction: Direction
  /// INS/OUTS.
  public var isString: Bool
  /// REP prefix.
  public var isRepeated: Bool

  public init(
    port: UInt16, size: UInt8, direction: Direction, isString: Bool = false,
    isRepeated: Bool = false
  ) {
    self.port = port
    self.size = size
    self.direction = direction
    self.isString = isString
    self.isRepeated = isRepeated
  }
}

/// A guest-physical access that nested paging (NPT) or EPT refused.
public struct NestedPageFault: Equatable {
  public enum Access: Equatable { case read, write, instructionFetch }
  public var guestPhysical: UInt64
  /// The guest-linear address when the hardware reports it (VMX qualification bit 7).
  public var guestLinear: UInt64?
  public var access: Access
  /// The guest-physical page was mapped, but not with this permission.
  public var wasMapped: Bool

  public init(
    guestPhysical: UInt64, guestLinear: UInt64? = nil, access: Access, wasMapped: Bool = false
  ) {
    self.guestPhysical = guestPhysical
    self.guestLinear = guestLinear
    self.access = access
    self.wasMapped = wasMapped
  }
}

/// MOV to/from a control register (VMX qualification SDM 3C Table 28-3; SVM CR intercepts).
public struct ControlRegisterAccess: Equatable {
  public enum Kind: Equatable {
    case write, read, clts
    case lmsw(sourceData: UInt16)
  }
  public var register: UInt8
  public var kind: Kind
  /// General-purpose register number (0 = RAX ... 15 = R15) for MOV forms.
  public var generalRegister: UInt8

  public init(register: UInt8, kind: Kind, generalRegister: UInt8) {
    self.register = register
    self.kind = kind
    self.generalRegister = generalRegister
  }
}
