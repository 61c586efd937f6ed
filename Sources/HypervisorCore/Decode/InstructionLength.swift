/// Finds the length of the instruction at RIP, for exits that do not report it: AMD-V
/// without the NRIP-save feature leaves the next RIP to software (AMD APM Vol 2 §15.7.1).
public enum InstructionLength {
  /// The length in bytes of the instruction starting at `bytes[0]` in a guest running at
  /// `width`, or nil when the bytes run out first, the instruction would be longer than 15
  /// bytes (SDM Vol 2 §2.3.11), or it is undefined or VEX/EVEX/XOP encoded.
  public static func decode(_ bytes: InstructionBytes, width: GuestMode.Width) -> UInt8? {
    // Fast path for the exits that matter most, unprefixed 0F xx with no ModRM: CPUID,
    // RDMSR, WRMSR, INVD, WBINVD, RDTSC.
    if bytes.count >= 2, bytes[0] == 0x0F {
      switch bytes[1] {
      case 0x08, 0x09, 0x30...0x33, 0xA2: return 2
      default: break
      }
    }
    var cursor = InstructionCursor(bytes)
    do throws(InstructionFetchError) {
      guard try measure(&cursor, width: width) else { return nil }
      return UInt8(cursor.position)
    } catch {
      return nil
    }
  }

  /// Consumes the whole instruction; returns false for an opcode it does not know.
  private static func measure(
    _ cursor: inout InstructionCursor, width: GuestMode.Width
  ) throws(InstructionFetchError) -> Bool {
    let prefixes = try InstructionPrefixes.read(from: &cursor, width: width)
    let opcode = try cursor.next()
    let layout: OperandLayout
    if opcode == 0x0F {
      let second = try cursor.next()
      switch second {
      case 0x38:
        // Three-byte map 0F 38 (Table A-4): every entry takes ModRM and no immediate.
        _ = try cursor.next()
        layout = OperandLayout(.addressing, .none)
      case 0x3A:
        // Three-byte map 0F 3A (Table A-5): every entry takes ModRM and Ib.
        _ = try cursor.next()
        layout = OperandLayout(.addressing, .byte)
      default:
        guard let found = TwoByteOpcodeMap.layout(of: second, prefixes: prefixes) else {
          return false
        }
        layout = found
      }
    } else {
      guard let found = OneByteOpcodeMap.layout(of: opcode, width: width) else { return false }
      guard try !startsVectorExtension(opcode, next: cursor) else { return false }
      layout = found
    }

    let addressSize = prefixes.addressSize(width: width)
    var modRM = ModRM(0)
    switch layout.modRM {
    case .absent: break
    case .registerOnly: modRM = ModRM(try cursor.next())
    case .addressing: modRM = try cursor.readModRMOperand(addressSize: addressSize)
    }
    let immediateLength = layout.immediateLength(
      operandSize: prefixes.operandSize(width: width), addressSize: addressSize,
      modRMReg: modRM.reg, width: width)
    try cursor.skip(immediateLength)
    return true
  }

  /// Whether `opcode` is really the first byte of a VEX (C4, C5), EVEX (62) or XOP (8F)
  /// prefix. Outside 64-bit mode VEX and EVEX reuse LES, LDS and BOUND encodings that would
  /// be invalid with a register operand, so a following byte with mod 11 marks the prefix
  /// (SDM Vol 2 §2.3.5); XOP reuses POP Ev with a nonzero reg field (AMD APM Vol 3 §1.8).
  private static func startsVectorExtension(
    _ opcode: UInt8, next cursor: InstructionCursor
  ) throws(InstructionFetchError) -> Bool {
    switch opcode {
    case 0x62, 0xC4, 0xC5: return ModRM(try cursor.peek()).isRegister
    case 0x8F: return ModRM(try cursor.peek()).reg != 0
    default: return false
    }
  }
}
