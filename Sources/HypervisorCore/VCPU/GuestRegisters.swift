/// The guest's general-purpose registers as the world switch (boot/*_world_switch.asm)
/// saves them: sixteen 8-byte slots in the order of the x86 register number (RAX = 0 ...
/// R15 = 15), then RIP and RFLAGS. The assembly depends on this exact layout;
/// GuestRegistersLayoutTests pins it.
///
/// On SVM, RAX, RSP, RIP and RFLAGS live in the VMCB and on VMX, RSP, RIP and RFLAGS live in
/// the VMCS: the backend copies them in before dispatch and out after, so handlers see one
/// register file on both vendors.
public struct GuestRegisters: Equatable {
  public var rax: UInt64 = 0
  public var rcx: UInt64 = 0
  public var rdx: UInt64 = 0
  public var rbx: UInt64 = 0
  public var rsp: UInt64 = 0
  public var rbp: UInt64 = 0
  public var rsi: UInt64 = 0
  public var rdi: UInt64 = 0
  public var r8: UInt64 = 0
  public var r9: UInt64 = 0
  public var r10: UInt64 = 0
  public var r11: UInt64 = 0
  public var r12: UInt64 = 0
  public var r13: UInt64 = 0
  public var r14: UInt64 = 0
  public var r15: UInt64 = 0
  public var rip: UInt64 = 0
  public var rflags: UInt64 = 0x2

  public init() {}

  /// Register by x86 encoding number (ModRM.reg/rm with REX extension).
  public subscript(number: Int) -> UInt64 {
    get {
      switch number & 15 {
      case 0: return rax
      case 1: return rcx
      case 2: return rdx
      case 3: return rbx
      case 4: return rsp
      case 5: return rbp
      case 6: return rsi
      case 7: return rdi
      case 8: return r8
      case 9: return r9
      case 10: return r10
      case 11: return r11
      case 12: return r12
      case 13: return r13
      case 14: return r14
      default: return r15
      }
    }
    set {
      switch number & 15 {
      case 0: rax = newValue
      case 1: rcx = newValue
      case 2: rdx = newValue
      case 3: rbx = newValue
      case 4: rsp = newValue
      case 5: rbp = newValue
      case 6: rsi = newValue
      case 7: rdi = newValue
      case 8: r8 = newValue
      case 9: r9 = newValue
      case 10: r10 = newValue
      case 11: r11 = newValue
      case 12: r12 = newValue
      case 13: r13 = newValue
      case 14: r14 = newValue
      default: r15 = newValue
      }
    }
  }

  /// EDX:EAX, as RDMSR/WRMSR and RDTSC use them.
  public var edxEax: UInt64 {
    get { (rdx & 0xFFFF_FFFF) << 32 | (rax & 0xFFFF_FFFF) }
    set {
      rax = newValue & 0xFFFF_FFFF
      rdx = newValue >> 32
    }
  }
}
