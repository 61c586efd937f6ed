/// The two-byte opcode map, 0F xx (SDM Vol 2 Appendix A.3, Tables ), reduced to
/// operand layout. The three-byte escapes 0F 38 and 0F 3A are handled by the caller.
enum TwoByteOpcodeMap {
  /// The layout of `0F opcode`, or nil when the opcode is undefined. `prefixes` matter only
  /// where a mandatory prefix changes the length: AMD's SSE4a EXTRQ/INSERTQ (66/F2 0F 78)
  /// take two immediate bytes that VMREAD does not.
  @inline(__always)
  static func layout(of opcode: UInt8, prefixes: InstructionPrefixes) -> OperandLayout? {
    switch opcode {
    case 0x05...0x09, 0x0B, 0x0E, 0x30...0x35, 0x37, 0x77, 0xA0...0xA2, 0xA8...0xAA,
      0xC8...0xCF:
      // SYSCALL, CLTS, SYSRET, INVD, WBINVD, UD2, FEMMS, WRMSR, RDTSC, RDMSR, RDPMC,
      // SYSENTER, SYSEXIT, GETSEC, EMMS, PUSH/POP FS, CPUID, PUSH/POP GS, RSM, BSWAP.
      return OperandLayout(.absent, .none)
    case 0x00...0x03, 0x0D, 0x10...0x1F, 0x28...0x2F, 0x40...0x6F, 0x74...0x76, 0x79,
      0x7C...0x7F, 0x90...0x9F, 0xA3, 0xA5, 0xAB, 0xAD...0xB9, 0xBB...0xC1, 0xC3, 0xC7,
      0xD0...0xFF:
      return OperandLayout(.addressing, .none)
    case 0x0F, 0x70...0x73, 0xA4, 0xAC, 0xBA, 0xC2, 0xC4...0xC6:
      // 3DNow! (its opcode is a trailing byte), PSHUF/shift groups, SHLD/SHRD Ib, BT group 8,
      // CMPPS, PINSRW, PEXTRW, SHUFPS.
      return OperandLayout(.addressing, .byte)
    case 0x20...0x23:
      return OperandLayout(.registerOnly, .none)
    case 0x78:
      let sse4a = prefixes.operandSizeOverride || prefixes.repeatNotEqualPrefix
      return OperandLayout(.addressing, sse4a ? .word : .none)
    case 0x80...0x8F:
      return OperandLayout(.absent, .relative)
    default:
      // 04, 0A, 0C, 24-27, 36, 39, 3B-3F, 7A, 7B, A6, A7 are undefined; 38 and 3A are the
      // three-byte escapes.
      return nil
    }
  }
}
