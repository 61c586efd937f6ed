/// The one-byte opcode map (SDM Vol 2 Appendix A.3, Table A-2), reduced to operand layout.
/// A switch rather than a table so the compiler emits a jump table with no memory loads of
/// our own and no static initialisation in the Embedded build.
enum OneByteOpcodeMap {
  /// The layout of `opcode`, or nil when it is not an instruction on its own in `width`
  /// (invalid in 64-bit mode, an escape, or a prefix, which never reaches here).
  static func layout(of opcode: UInt8, width: GuestMode.Width) -> OperandLayout? {
    let legacy = width != .long64
    switch opcode {
    case 0x00...0x3F:
      // Rows 0-3 repeat: columns 0-3 and 8-B are ALU E/G forms, 4/C take Ib, 5/D take Iz;
      // 6/7/E/F are PUSH/POP segment and BCD adjust, all invalid in 64-bit mode.
      switch opcode & 7 {
      case 0...3: return OperandLayout(.addressing, .none)
      case 4: return OperandLayout(.absent, .byte)
      case 5: return OperandLayout(.absent, .operandSized)
      default: return legacy ? OperandLayout(.absent, .none) : nil
      }
    case 0x40...0x5F, 0x6C...0x6F, 0x90...0x99, 0x9B...0x9F, 0xA4...0xA7, 0xAA...0xAF,
      0xC3, 0xC9, 0xCB, 0xCC, 0xCF, 0xD7, 0xEC...0xEF, 0xF1, 0xF4, 0xF5, 0xF8...0xFD:
      return OperandLayout(.absent, .none)
    case 0x60, 0x61, 0xCE, 0xD6:
      return legacy ? OperandLayout(.absent, .none) : nil
    case 0x62, 0xC4, 0xC5:
      // BOUND, LES, LDS; in 64-bit mode these bytes start EVEX and VEX, which we leave out.
      return legacy ? OperandLayout(.addressing, .none) : nil
    case 0x63, 0x84...0x8F, 0xD0...0xD3, 0xD8...0xDF, 0xFE, 0xFF:
      return OperandLayout(.addressing, .none)
    case 0x68, 0xA9:
      return OperandLayout(.absent, .operandSized)
    case 0x69, 0x81, 0xC7:
      return OperandLayout(.addressing, .operandSized)
    case 0x6A, 0x70...0x7F, 0xA8, 0xB0...0xB7, 0xCD, 0xE0...0xE7, 0xEB:
      return OperandLayout(.absent, .byte)
    case 0x6B, 0x80, 0x83, 0xC0, 0xC1, 0xC6:
      return OperandLayout(.addressing, .byte)
    case 0x82:
      return legacy ? OperandLayout(.addressing, .byte) : nil
    case 0x9A, 0xEA:
      return legacy ? OperandLayout(.absent, .farPointer) : nil
    case 0xA0...0xA3:
      return OperandLayout(.absent, .memoryOffset)
    case 0xB8...0xBF:
      return OperandLayout(.absent, .fullOperand)
    case 0xC2, 0xCA:
      return OperandLayout(.absent, .word)
    case 0xC8:
      return OperandLayout(.absent, .enterFrame)
    case 0xD4, 0xD5:
      return legacy ? OperandLayout(.absent, .byte) : nil
    case 0xE8, 0xE9:
      return OperandLayout(.absent, .relative)
    case 0xF6:
      return OperandLayout(.addressing, .byteWhenTest)
    case 0xF7:
      return OperandLayout(.addressing, .operandSizedWhenTest)
    default:
      return nil
    }
  }
}
