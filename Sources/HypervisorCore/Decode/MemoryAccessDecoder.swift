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

    case 0x00...0x3F where opcode & 7 <= 3, 0x80...0x85, 0xF6, 0xF7:
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
      default:
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
