extension MemoryAccessDecoder {
  /// The ALU forms on a memory operand (SDM Vol 2 Table A-2, groups 1 and 3 in Table A-6):
  /// 00-3F columns 0-3 (op Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev, ModRM-selected by opcode bits
  /// 5:3), 80/82/83 (op Eb,Ib / Ev,Ib sign-extended) and 81 (Ev,Iz), 84/85 TEST Eb,Gb /
  /// Ev,Gv, F6/F7 /0 and /1 TEST Eb,Ib / Ev,Iz, /2 NOT and /3 NEG, FE/FF /0 INC and /1 DEC. Iz is sign-extended to 64 bits with REX.W.
  static func decodeArithmetic(
    _ opcode: UInt8, _ cursor: inout InstructionCursor, prefixes: InstructionPrefixes,
    width: GuestMode.Width, operand: inout MemoryOperand
  ) throws(InstructionFetchError) -> Result<MemoryAccessInstruction, MemoryAccessDecodeError> {
    if opcode == 0x82 && width == .long64 { return .failure(.unsupportedOpcode(opcode)) }
    let operandSize = prefixes.operandSize(width: width)
    let addressSize = prefixes.addressSize(width: width)
    let (modRM, memory) = try cursor.readMemoryOperand(
      prefixes: prefixes, addressSize: addressSize, width: width)
    let size = opcode & 1 == 0 ? 1 : operandSize
    let operation: ArithmeticOperation
    let source: StoreSource
    var registerDestination = false
    switch opcode {
    case 0x80...0x83:
      operation = ArithmeticOperation(rawValue: Int(modRM.reg)) ?? .add
      source = .immediate(try immediate(opcode == 0x81 ? size : 1, size: size, &cursor))
    case 0xF6, 0xF7:
      // Group 3: /0 /1 TEST Ib/Iz, /2 NOT, /3 NEG; MUL, IMUL, DIV, IDIV are not emulated.
      switch modRM.reg {
      case 0, 1:
        operation = .test
        source = .immediate(try immediate(size, size: size, &cursor))
      case 2, 3:
        operation = modRM.reg == 2 ? .not : .neg
        source = .immediate(0)
      default:
        return .failure(.unsupportedOpcode(opcode))
      }
    case 0xFE, 0xFF:
      // Groups 4 and 5: /0 INC, /1 DEC; the rest (CALL, JMP, PUSH) are not emulated.
      guard modRM.reg <= 1 else { return .failure(.unsupportedOpcode(opcode)) }
      operation = modRM.reg == 0 ? .inc : .dec
      source = .immediate(0)
    default:
      operation = opcode >= 0x84 ? .test : ArithmeticOperation(rawValue: Int(opcode >> 3)) ?? .add
      registerDestination = opcode < 0x84 && opcode & 2 != 0
      let register = Int(modRM.reg) | prefixes.rexR
      let (number, highByte) =
        size == 1 ? byteRegister(register, prefixes: prefixes) : (register, false)
      source = .register(number, highByte: highByte)
    }
    guard let memory else { return .failure(.registerOperandNotMemory) }
    operand = memory
    return .success(
      .arithmetic(
        operation: operation, size: size, source: source,
        registerDestination: registerDestination))
  }

  /// An immediate of `immediateSize` bytes (Iz is at most 4) sign-extended to `size`.
  private static func immediate(
    _ immediateSize: UInt8, size: UInt8, _ cursor: inout InstructionCursor
  ) throws(InstructionFetchError) -> UInt64 {
    let bytes = min(immediateSize, 4)
    let raw = try cursor.readLittleEndian(Int(bytes))
    let unused = 64 - UInt64(bytes) * 8
    let extended = UInt64(bitPattern: Int64(bitPattern: raw << unused) >> unused)
    return size >= 8 ? extended : extended & ((1 << (UInt64(size) * 8)) - 1)
  }
}
