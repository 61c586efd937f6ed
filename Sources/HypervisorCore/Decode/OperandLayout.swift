/// What follows an opcode: whether a ModRM byte does, and what immediate (SDM Vol 2
/// Appendix A.2 operand codes: E/G/M imply ModRM; b, w, z, v, p, O size the immediate).
struct OperandLayout {
  enum ModRMForm {
    /// No ModRM byte.
    case absent
    /// A ModRM byte that may be followed by a SIB byte and a displacement.
    case addressing
    /// A ModRM byte whose mod field is ignored and always names a register: MOV to and from
    /// control and debug registers (SDM Vol 2 MOV—Move to/from Control Registers).
    case registerOnly
  }

  enum Immediate {
    case none
    /// Ib, Jb.
    case byte
    /// Iw.
    case word
    /// Iz: 16 bits with a 16-bit operand size, 32 bits otherwise.
    case operandSized
    /// Iv: the full operand size, 64 bits with REX.W (MOV r64, imm64 only).
    case fullOperand
    /// Jz: as Iz, but fixed at 32 bits in 64-bit mode, where 66 is ignored (SDM Vol 2
    /// JMP/CALL/Jcc "64-bit mode" notes).
    case relative
    /// ENTER Iw, Ib.
    case enterFrame
    /// Ap: a far pointer, 16-bit selector after a 16- or 32-bit offset.
    case farPointer
    /// Ob/Ov: a memory offset as wide as the address size.
    case memoryOffset
    /// Group 3 (F6): TEST /0 and /1 take Ib, the others nothing (Table A-6).
    case byteWhenTest
    /// Group 3 (F7): TEST /0 and /1 take Iz, the others nothing (Table A-6).
    case operandSizedWhenTest
  }

  var modRM: ModRMForm
  var immediate: Immediate

  @inline(__always)
  init(_ modRM: ModRMForm, _ immediate: Immediate) {
    self.modRM = modRM
    self.immediate = immediate
  }

  /// The immediate's length in bytes, given the operand and address sizes and the ModRM.reg
  /// field (for group 3).
  @inline(__always)
  func immediateLength(
    operandSize: UInt8, addressSize: UInt8, modRMReg: UInt8, width: GuestMode.Width
  ) -> Int {
    let z = operandSize == 2 ? 2 : 4
    switch immediate {
    case .none: return 0
    case .byte: return 1
    case .word: return 2
    case .operandSized: return z
    case .fullOperand: return Int(operandSize)
    case .relative: return width == .long64 ? 4 : z
    case .enterFrame: return 3
    case .farPointer: return 2 + z
    case .memoryOffset: return Int(addressSize)
    case .byteWhenTest: return modRMReg < 2 ? 1 : 0
    case .operandSizedWhenTest: return modRMReg < 2 ? z : 0
    }
  }
}
