/// Decodes the instruction that faulted on an emulated MMIO page into a load or store the
/// device model can perform.
public enum MemoryAccessDecoder {
  public static func decode(
    _ bytes: InstructionBytes, width: GuestMode.Width
  ) -> Result<DecodedMemoryAccess, MemoryAccessDecodeError> {
    var cursor = InstructionCursor(bytes)
    do throws(InstructionFetchError) {
      let prefixes = try InstructionPrefixes.read(from: &cursor, width: width)
      var operand = MemoryOperand(segment: .ds, addressSize: prefixes.addressSize(width: width))
      let decoded = try decodeOpcode(&cursor, prefixes: prefixes, width: width, operand: &operand)
      return decoded.map {
        DecodedMemoryAccess(instruction: $0, length: UInt8(cursor.position), operand: operand)
      }
    } catch {
      return .failure(error == .truncated ? .truncated : .tooLong)
    }
  }

  /// Decodes from the opcode on; fetch failures throw, semantic failures are returned.
  /// `operand` receives how the memory operand's address is formed.
  private static func decodeOpcode(
    _ cursor: inout InstructionCursor, prefixes: InstructionPrefixes, width: GuestMode.Width,
    operand: inout MemoryOperand
  ) throws(InstructionFetchError) -> Result<MemoryAccessInstruction, MemoryAccessDecodeError> {
    let operandSize = prefixes.operandSize(width: width)
    let addressSize = prefixes.addressSize(width: width)
    let opcode = try cursor.next()
    switch opcode {
    case 0x88...0x8B:
      // MOV Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev (Table A-2): bit 0 selects byte or full size,
      // bit 1 the direction.
      let (modRM, memory) = try cursor.readMemoryOperand(
        prefixes: prefixes, addressSize: addressSize, width: width)
      guard let memory else { return .failure(.registerOperandNotMemory) }
      operand = memory
      let register = Int(modRM.reg) | prefixes.rexR
      let size = opcode & 1 == 0 ? 1 : operandSize
      let (number, highByte) =
        size == 1 ? byteRegister(register, prefixes: prefixes) : (register, false)
      if opcode & 2 == 0 {
        return .success(.store(size: size, source: .register(number, highByte: highByte)))
      }
      return .success(
        .load(
          size: size, destinationRegister: number, highByte: highByte, extension: .none,
          destinationSize: size))

    case 0x63 where width == .long64:
      // MOVSXD Gv, Ed: sign-extends only with REX.W; without it, a plain 16/32-bit move.
      let (modRM, memory) = try cursor.readMemoryOperand(
        prefixes: prefixes, addressSize: addressSize, width: width)
      guard let memory else { return .failure(.registerOperandNotMemory) }
      operand = memory
      let size = min(operandSize, 4)
      return .success(
        .load(
          size: size, destinationRegister: Int(modRM.reg) | prefixes.rexR, highByte: false,
          extension: operandSize == 8 ? .sign : .none, destinationSize: operandSize))

    case 0xA0...0xA3:
      // MOV AL/rAX, moffs and back: the offset is as wide as the address size, so 8 bytes
      // in 64-bit mode unless 67 (SDM Vol 2 MOV, "moffs" note).
      operand.displacement = try cursor.readLittleEndian(Int(addressSize))
      if let override = prefixes.segmentOverride { operand.segment = override }
      let size = opcode & 1 == 0 ? 1 : operandSize
      if opcode & 2 == 0 {
        return .success(
          .load(
            size: size, destinationRegister: 0, highByte: false, extension: .none,
            destinationSize: size))
      }
      return .success(.store(size: size, source: .register(0, highByte: false)))

    case 0xAA, 0xAB:
      // STOS; F2 repeats STOS exactly as F3 does (SDM Vol 2 REP, note on REPNE).
      let size = opcode == 0xAA ? 1 : operandSize
      let repeated = prefixes.repeatPrefix || prefixes.repeatNotEqualPrefix
      // ES:(E/R)DI, which no prefix overrides (SDM Vol 2 STOS).
      operand = MemoryOperand(segment: .es, base: 7, addressSize: addressSize)
      return .success(.storeString(size: size, repeated: repeated, addressSize: addressSize))

    case 0xA4...0xA7, 0xAC...0xAF:
      // MOVS, CMPS, LODS, SCAS: even opcodes are the byte forms.
      let operation: StringOperation
      switch opcode {
      case 0xA4, 0xA5: operation = .movs
      case 0xA6, 0xA7: operation = .cmps
      case 0xAC, 0xAD: operation = .lods
      default: operation = .scas
      }
      let repeatPrefix: RepeatPrefix
      if !prefixes.repeatPrefix && !prefixes.repeatNotEqualPrefix {
        repeatPrefix = .none
      } else {
        repeatPrefix = prefixes.lastRepeatIsNotEqual ? .repeatWhileNotEqual : .repeatWhileEqual
      }
      // The source is DS:(E/R)SI unless a segment override names another; the destination
      // ES:(E/R)DI takes no override (SDM Vol 2 MOVS, CMPS, LODS, SCAS).
      let sourceSegment = prefixes.segmentOverride ?? .ds
      operand =
        operation == .scas
        ? MemoryOperand(segment: .es, base: 7, addressSize: addressSize)
        : MemoryOperand(segment: sourceSegment, base: 6, addressSize: addressSize)
      return .success(
        .string(
          operation: operation, size: opcode & 1 == 0 ? 1 : operandSize, repeat: repeatPrefix,
          addressSize: addressSize, sourceSegment: sourceSegment))

    case 0x86, 0x87:
      // XCHG Eb,Gb / Ev,Gv (Table A-2); with a memory operand it is locked whatever the
      // prefixes say, which the emulation (one read, then one write) does not need to model.
      let (modRM, memory) = try cursor.readMemoryOperand(
        prefixes: prefixes, addressSize: addressSize, width: width)
      guard let memory else { return .failure(.registerOperandNotMemory) }
      operand = memory
      let size: UInt8 = opcode == 0x86 ? 1 : operandSize
      let register = Int(modRM.reg) | prefixes.rexR
      let (number, highByte) =
        size == 1 ? byteRegister(register, prefixes: prefixes) : (register, false)
      return .success(.exchange(size: size, register: number, highByte: highByte))

    case 0xC6, 0xC7:
      // Group 11 (Table A-6): only /0 is MOV. The immediate follows the displacement; Iz
      // is sign-extended to 64 bits with REX.W.
      let (modRM, memory) = try cursor.readMemoryOperand(
        prefixes: prefixes, addressSize: addressSize, width: width)
      guard modRM.reg == 0 else { return .failure(.unsupportedOpcode(opcode)) }
      guard let memory else { return .failure(.registerOperandNotMemory) }
      operand = memory
      let size = opcode == 0xC6 ? 1 : operandSize
      let immediateSize = size == 8 ? 4 : Int(size)
      var value = try cursor.readLittleEndian(immediateSize)
      if size == 8 { value = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: value))) }
      return .success(.store(size: size, source: .immediate(value)))

    case 0x69, 0x6B:
      return try decodeMultiplyImmediate(
        opcode, &cursor, prefixes: prefixes, width: width, operand: &operand)

    case 0x00...0x3F where opcode & 7 <= 3, 0x80...0x85, 0xF6, 0xF7, 0xFE, 0xFF:
      return try decodeArithmetic(
        opcode, &cursor, prefixes: prefixes, width: width, operand: &operand)

    case 0x0F:
      let second = try cursor.next()
      switch second {
      case 0xB6, 0xB7, 0xBE, 0xBF:
        // MOVZX/MOVSX Gv, Eb/Ew: bit 0 picks the source width, bit 3 sign or zero.
        let (modRM, memory) = try cursor.readMemoryOperand(
          prefixes: prefixes, addressSize: addressSize, width: width)
        guard let memory else { return .failure(.registerOperandNotMemory) }
        operand = memory
        return .success(
          .load(
            size: second & 1 == 0 ? 1 : 2, destinationRegister: Int(modRM.reg) | prefixes.rexR,
            highByte: false, extension: second & 8 == 0 ? .zero : .sign,
            destinationSize: operandSize))
      case 0x01:
        // Group 7 (Table A-6): only /4 SMSW m16 is emulated, a 16-bit store of CR0's low
        // word whatever the operand size (SDM Vol 2 SMSW).
        let (modRM, memory) = try cursor.readMemoryOperand(
          prefixes: prefixes, addressSize: addressSize, width: width)
        guard modRM.reg == 4 else { return .failure(.unsupportedOpcode(second)) }
        guard let memory else { return .failure(.registerOperandNotMemory) }
        operand = memory
        return .success(.store(size: 2, source: .machineStatusWord))
      case 0xB0, 0xB1, 0xC0, 0xC1:
        // CMPXCHG Eb,Gb / Ev,Gv (0F B0, B1) and XADD Eb,Gb / Ev,Gv (0F C0, C1).
        let (modRM, memory) = try cursor.readMemoryOperand(
          prefixes: prefixes, addressSize: addressSize, width: width)
        guard let memory else { return .failure(.registerOperandNotMemory) }
        operand = memory
        let size: UInt8 = second & 1 == 0 ? 1 : operandSize
        let register = Int(modRM.reg) | prefixes.rexR
        let (number, highByte) =
          size == 1 ? byteRegister(register, prefixes: prefixes) : (register, false)
        if second < 0xC0 {
          return .success(.compareExchange(size: size, register: number, highByte: highByte))
        }
        return .success(.exchangeAdd(size: size, register: number, highByte: highByte))
      default:
        if let decoded = try decodeBitOperation(
          second, &cursor, prefixes: prefixes, width: width, operand: &operand)
        {
          return decoded
        }
        if let decoded = try decodeVectorMove(
          second, &cursor, prefixes: prefixes, width: width, operand: &operand)
        {
          return decoded
        }
        return .failure(.unsupportedOpcode(second))
      }

    default:
      return .failure(.unsupportedOpcode(opcode))
    }
  }

  /// Maps a byte-register number to its register and half: without REX, 4-7 are AH, CH,
  /// DH, BH; with any REX they are SPL, BPL, SIL, DIL (SDM Vol 2 §2.2.1.2, Table 3-1 Vol 1).
  static func byteRegister(
    _ number: Int, prefixes: InstructionPrefixes
  ) -> (number: Int, highByte: Bool) {
    if !prefixes.hasREX, number >= 4, number < 8 { return (number - 4, true) }
    return (number, false)
  }
}
