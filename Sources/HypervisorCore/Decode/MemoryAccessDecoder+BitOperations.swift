extension MemoryAccessDecoder {
  /// IMUL Gv, Ev, Iz (69) and Gv, Ev, Ib (6B); the immediate is sign-extended to the
  /// operand size (SDM Vol 2 IMUL).
  static func decodeMultiplyImmediate(
    _ opcode: UInt8, _ cursor: inout InstructionCursor, prefixes: InstructionPrefixes,
    width: GuestMode.Width, operand: inout MemoryOperand
  ) throws(InstructionFetchError) -> Result<MemoryAccessInstruction, MemoryAccessDecodeError> {
    let size = prefixes.operandSize(width: width)
    let (modRM, memory) = try cursor.readMemoryOperand(
      prefixes: prefixes, addressSize: prefixes.addressSize(width: width), width: width)
    let immediateSize = opcode == 0x6B ? 1 : min(Int(size), 4)
    let raw = try cursor.readLittleEndian(immediateSize)
    guard let memory else { return .failure(.registerOperandNotMemory) }
    operand = memory
    let value =
      BitArithmetic.signExtend(raw, from: UInt8(immediateSize)) & BitArithmetic.mask(size)
    return .success(
      .signedMultiply(
        size: size, destinationRegister: Int(modRM.reg) | prefixes.rexR, immediate: value))
  }

  /// The two-byte forms of the bit, scan, multiply and double-shift instructions (SDM Vol 2
  /// Table A-3): 0F A3/AB/B3/BB BT*, 0F BA group 8, 0F BC/BD BSF/BSR, 0F AF IMUL, 0F A4/A5
  /// SHLD, 0F AC/AD SHRD. nil when `second` is none of them.
  static func decodeBitOperation(
    _ second: UInt8, _ cursor: inout InstructionCursor, prefixes: InstructionPrefixes,
    width: GuestMode.Width, operand: inout MemoryOperand
  ) throws(InstructionFetchError) -> Result<MemoryAccessInstruction, MemoryAccessDecodeError>? {
    switch second {
    case 0xA3, 0xAB, 0xB3, 0xBB, 0xBA, 0xBC, 0xBD, 0xAF, 0xA4, 0xA5, 0xAC, 0xAD: break
    default: return nil
    }
    // F3 0F BC/BD are TZCNT/LZCNT on processors with BMI1/ABM, whatever the guest's CPUID
    // says; they are not emulated rather than emulated as BSF/BSR.
    if (second == 0xBC || second == 0xBD) && prefixes.repeatPrefix {
      return .failure(.unsupportedOpcode(second))
    }
    let size = prefixes.operandSize(width: width)
    let (modRM, memory) = try cursor.readMemoryOperand(
      prefixes: prefixes, addressSize: prefixes.addressSize(width: width), width: width)
    let register = Int(modRM.reg) | prefixes.rexR
    let instruction: MemoryAccessInstruction
    switch second {
    case 0xBA:
      // Group 8 (Table A-6): /4 BT, /5 BTS, /6 BTR, /7 BTC; /0-/3 are undefined.
      guard modRM.reg >= 4 else { return .failure(.unsupportedOpcode(second)) }
      let bit = UInt8(try cursor.readLittleEndian(1))
      instruction = .bitTest(
        operation: BitTestOperation(rawValue: Int(modRM.reg)) ?? .test, size: size,
        offset: .immediate(bit))
    case 0xA3, 0xAB, 0xB3, 0xBB:
      // Bits 4:3 of the opcode order them as group 8 does: BT, BTS, BTR, BTC.
      let operation = BitTestOperation(rawValue: 4 + Int((second >> 3) & 3)) ?? .test
      instruction = .bitTest(operation: operation, size: size, offset: .register(register))
    case 0xBC, 0xBD:
      instruction = .bitScan(reverse: second == 0xBD, size: size, destinationRegister: register)
    case 0xAF:
      instruction = .signedMultiply(size: size, destinationRegister: register, immediate: nil)
    default:
      // A4/AC take an Ib after ModRM and its displacement; A5/AD shift by CL.
      let count: ShiftCount =
        second & 1 == 0 ? .immediate(UInt8(try cursor.readLittleEndian(1))) : .cl
      instruction = .doubleShift(left: second < 0xAC, size: size, register: register, count: count)
    }
    guard let memory else { return .failure(.registerOperandNotMemory) }
    operand = memory
    return .success(instruction)
  }

  /// The SSE and MMX moves (VectorMove), nil when `second` under the instruction's
  /// mandatory prefix is not one. F2 or F3, whichever came last, outranks 66 (SDM Vol 2
  /// §2.1.2: 66 with F2/F3 is reserved; processors take the F2/F3 meaning).
  static func decodeVectorMove(
    _ second: UInt8, _ cursor: inout InstructionCursor, prefixes: InstructionPrefixes,
    width: GuestMode.Width, operand: inout MemoryOperand
  ) throws(InstructionFetchError) -> Result<MemoryAccessInstruction, MemoryAccessDecodeError>? {
    let prefix: UInt8
    if prefixes.repeatPrefix || prefixes.repeatNotEqualPrefix {
      prefix = prefixes.lastRepeatIsNotEqual ? 0xF2 : 0xF3
    } else {
      prefix = prefixes.operandSizeOverride ? 0x66 : 0
    }
    // The register number comes from ModRM, so the kind is known only after it; a form the
    // table lacks is found before the operand is consumed, by a probe with register 0.
    guard VectorMove.decode(second, prefix: prefix, wide: prefixes.rexW, reg: 0) != nil else {
      return nil
    }
    let (modRM, memory) = try cursor.readMemoryOperand(
      prefixes: prefixes, addressSize: prefixes.addressSize(width: width), width: width)
    guard
      let move = VectorMove.decode(
        second, prefix: prefix, wide: prefixes.rexW, reg: Int(modRM.reg) | prefixes.rexR)
    else { return .failure(.unsupportedOpcode(second)) }
    guard let memory else { return .failure(.registerOperandNotMemory) }
    operand = memory
    return .success(.vectorMove(move))
  }
}
