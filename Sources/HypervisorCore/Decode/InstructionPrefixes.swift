/// The legacy and REX prefixes in front of an opcode (SDM Vol 2 §2.1.1, §2.2.1).
struct InstructionPrefixes {
  /// 66: toggles the operand size.
  var operandSizeOverride = false
  /// 67: toggles the address size.
  var addressSizeOverride = false
  /// F3 (REP/REPE).
  var repeatPrefix = false
  /// F2 (REPNE).
  var repeatNotEqualPrefix = false
  /// Which of F3 and F2 came last, when both are present: that one decides between REPE and
  /// REPNE for CMPS and SCAS (both share prefix group 1, SDM Vol 2 §2.1.1, and processors
  /// act on the last one of a group).
  var lastRepeatIsNotEqual = false
  /// 40-4F in 64-bit mode, or 0 when absent.
  var rex: UInt8 = 0
  /// The last segment-override prefix (26 ES, 2E CS, 36 SS, 3E DS, 64 FS, 65 GS), if any.
  var segmentOverride: SegmentRegister? = nil

  var hasREX: Bool { rex != 0 }
  var rexW: Bool { rex & 8 != 0 }
  /// REX.R extends ModRM.reg to the upper eight registers.
  var rexR: Int { Int(rex & 4) << 1 }
  /// REX.X extends SIB.index.
  var rexX: Int { Int(rex & 2) << 2 }
  /// REX.B extends ModRM.rm, SIB.base or the opcode register.
  var rexB: Int { Int(rex & 1) << 3 }

  /// Consumes every prefix, leaving `cursor` on the opcode. Legacy prefixes may repeat and
  /// come in any order; the limit is only the 15-byte length (§2.1.1). A REX prefix counts
  /// only when the opcode follows it directly, otherwise it is ignored (§2.2.1).
  @inline(__always)
  static func read(
    from cursor: inout InstructionCursor, width: GuestMode.Width
  ) throws(InstructionFetchError) -> InstructionPrefixes {
    var prefixes = InstructionPrefixes()
    while true {
      let byte = try cursor.peek()
      switch byte {
      case 0x66: prefixes.operandSizeOverride = true
      case 0x67: prefixes.addressSizeOverride = true
      case 0xF3:
        prefixes.repeatPrefix = true
        prefixes.lastRepeatIsNotEqual = false
      case 0xF2:
        prefixes.repeatNotEqualPrefix = true
        prefixes.lastRepeatIsNotEqual = true
      case 0xF0: break
      case 0x26: prefixes.segmentOverride = .es
      case 0x2E: prefixes.segmentOverride = .cs
      case 0x36: prefixes.segmentOverride = .ss
      case 0x3E: prefixes.segmentOverride = .ds
      case 0x64: prefixes.segmentOverride = .fs
      case 0x65: prefixes.segmentOverride = .gs
      case 0x40...0x4F where width == .long64:
        prefixes.rex = byte
        try cursor.skip(1)
        continue
      default:
        return prefixes
      }
      prefixes.rex = 0
      try cursor.skip(1)
    }
  }

  /// The operand size in bytes: REX.W wins over 66 (§2.2.1.2, Table 2-4 in Vol 1 §3.6).
  func operandSize(width: GuestMode.Width) -> UInt8 {
    switch width {
    case .real, .protected16: return operandSizeOverride ? 4 : 2
    case .protected32: return operandSizeOverride ? 2 : 4
    case .long64: return rexW ? 8 : (operandSizeOverride ? 2 : 4)
    }
  }

  /// The address size in bytes (Vol 1 §3.6, Table 3-4 for 64-bit mode).
  func addressSize(width: GuestMode.Width) -> UInt8 {
    switch width {
    case .real, .protected16: return addressSizeOverride ? 4 : 2
    case .protected32: return addressSizeOverride ? 2 : 4
    case .long64: return addressSizeOverride ? 4 : 8
    }
  }
}
