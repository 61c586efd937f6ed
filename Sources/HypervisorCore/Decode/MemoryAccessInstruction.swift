/// How a load widens the value it reads into the destination register.
public enum LoadExtension: Equatable {
  /// MOV: the value is as wide as the destination.
  case none
  /// MOVZX.
  case zero
  /// MOVSX, MOVSXD.
  case sign
}

/// Where a store's value comes from.
public enum StoreSource: Equatable {
  /// A general-purpose register by x86 number (0 = RAX ... 15 = R15). With `highByte`, the
  /// value is bits 15:8 of that register: AH, CH, DH, BH are registers 0-3 with `highByte`,
  /// the meaning of ModRM.reg 4-7 for byte operands without REX (SDM Vol 2 §2.1.5, Table 2-2
  /// note; §2.2.1.2 for REX).
  case register(Int, highByte: Bool)
  /// An immediate, already sign-extended to the access size where the encoding says so.
  case immediate(UInt64)
  /// SMSW m16: CR0's low 16 bits as the guest sees CR0 (the executor is given it).
  case machineStatusWord
}

/// One of the instructions a guest uses on emulated MMIO, reduced to what the emulator needs.
public enum MemoryAccessInstruction: Equatable {
  /// MOV r, r/m (8A, 8B), MOVZX (0F B6, 0F B7), MOVSX (0F BE, 0F BF), MOVSXD (63 with
  /// REX.W), MOV AL/AX/EAX/RAX, moffs (A0, A1). Reads `size` bytes and writes
  /// `destinationSize` bytes of `destinationRegister`; with `highByte` the destination is
  /// AH, CH, DH or BH, numbered 0-3 as in `StoreSource.register`.
  case load(
    size: UInt8, destinationRegister: Int, highByte: Bool, extension: LoadExtension,
    destinationSize: UInt8)
  /// MOV r/m, r (88, 89), MOV moffs, AL/AX/EAX/RAX (A2, A3), MOV r/m, imm (C6 /0, C7 /0).
  case store(size: UInt8, source: StoreSource)
  /// STOS (AA, AB), optionally with REP: stores AL/AX/EAX/RAX at ES:(E/R)DI, then moves
  /// (E/R)DI by `size` per RFLAGS.DF and, when repeated, counts (E/R)CX down to zero.
  /// `addressSize` picks DI, EDI or RDI and CX, ECX or RCX.
  case storeString(size: UInt8, repeated: Bool, addressSize: UInt8)
  /// The ALU forms (00-3D columns 0-3, 80-83, TEST 84/85, F6/F7 /0) on a memory operand:
  /// `operation` of the memory value and `source`. With `registerDestination` (02, 03,
  /// 0A, ...: op Gv, Ev) the register is the destination and memory only read; otherwise
  /// the result is written back to memory unless the operation is CMP or TEST.
  case arithmetic(
    operation: ArithmeticOperation, size: UInt8, source: StoreSource, registerDestination: Bool)
  /// MOVS (A4, A5), CMPS (A6, A7), LODS (AC, AD), SCAS (AE, AF), optionally repeated: the
  /// source operand is `sourceSegment`:(E/R)SI (DS unless overridden), the destination
  /// ES:(E/R)DI, which no prefix overrides (SDM Vol 2, each instruction's page).
  /// `addressSize` picks SI/DI/CX, ESI/EDI/ECX or RSI/RDI/RCX.
  case string(
    operation: StringOperation, size: UInt8, repeat: RepeatPrefix, addressSize: UInt8,
    sourceSegment: SegmentRegister)
  /// XCHG r/m, r (86, 87): memory gets the register, the register the old memory value.
  case exchange(size: UInt8, register: Int, highByte: Bool)
  /// CMPXCHG r/m, r (0F B0, 0F B1): compares AL/AX/EAX/RAX with memory; equal, memory gets
  /// the register, else the accumulator gets memory (and memory its own value back).
  case compareExchange(size: UInt8, register: Int, highByte: Bool)
  /// XADD r/m, r (0F C0, 0F C1): memory gets the sum, the register the old memory value.
  case exchangeAdd(size: UInt8, register: Int, highByte: Bool)
  /// BT, BTS, BTR, BTC Ev, Gv (0F A3, AB, B3, BB) and Ev, Ib (0F BA /4-/7): CF gets the
  /// selected bit, which all but BT then change in memory. The register form's offset also
  /// moves the operand (`DecodedMemoryAccess.operand(registers:)`).
  case bitTest(operation: BitTestOperation, size: UInt8, offset: BitOffset)
  /// BSF, BSR Gv, Ev (0F BC, 0F BD): memory is only read.
  case bitScan(reverse: Bool, size: UInt8, destinationRegister: Int)
  /// IMUL Gv, Ev (0F AF), the register times memory, and IMUL Gv, Ev, Ib/Iz (6B, 69),
  /// memory times `immediate` (sign-extended to the operand size); memory is only read.
  case signedMultiply(size: UInt8, destinationRegister: Int, immediate: UInt64?)
  /// SHLD, SHRD Ev, Gv, Ib/CL (0F A4/A5, 0F AC/AD): memory shifted, filled from the register.
  case doubleShift(left: Bool, size: UInt8, register: Int, count: ShiftCount)
  /// The SSE and MMX moves between a vector register and memory (VectorMove).
  case vectorMove(VectorMove)

  /// Whether the access writes memory: the W/R bit of a #PF it causes (SDM 3A Figure 4-12).
  public var isStore: Bool {
    switch self {
    case .load: return false
    case .store, .storeString: return true
    case .string(let operation, _, _, _, _): return operation == .movs
    case .exchange, .compareExchange, .exchangeAdd: return true
    case .bitTest(let operation, _, _): return operation != .test
    case .bitScan, .signedMultiply: return false
    case .doubleShift: return true
    case .vectorMove(let move): return move.isStore
    case .arithmetic(let operation, _, _, let registerDestination):
      return !registerDestination && operation.writesResult
    }
  }
}

/// Why an instruction could not be decoded as an MMIO access.
public enum MemoryAccessDecodeError: Error, Equatable {
  /// The instruction continues past the fetched bytes.
  case truncated
  /// Not one of the forms `MemoryAccessInstruction` covers; the payload is the last opcode
  /// byte read (the byte after 0F for two-byte opcodes).
  case unsupportedOpcode(UInt8)
  /// The ModRM byte names a register, so the instruction cannot have touched MMIO.
  case registerOperandNotMemory
  /// The instruction would be longer than 15 bytes (SDM Vol 2 §2.3.11).
  case tooLong
}

/// A decoded MMIO access and the length of its instruction, by which RIP advances.
public struct DecodedMemoryAccess: Equatable {
  public var instruction: MemoryAccessInstruction
  public var length: UInt8
  /// How the memory operand's address is formed; the decoder always sets it.
  public var operand: MemoryOperand?

  public init(instruction: MemoryAccessInstruction, length: UInt8, operand: MemoryOperand? = nil) {
    self.instruction = instruction
    self.length = length
    self.operand = operand
  }

  /// Bytes one access (one repetition, and one of its operands, for a string instruction)
  /// touches.
  public var accessSize: UInt8 {
    switch instruction {
    case .load(let size, _, _, _, _), .store(let size, _), .storeString(let size, _, _),
      .arithmetic(_, let size, _, _), .string(_, let size, _, _, _), .exchange(let size, _, _),
      .compareExchange(let size, _, _), .exchangeAdd(let size, _, _),
      .bitTest(_, let size, _), .bitScan(_, let size, _), .signedMultiply(let size, _, _),
      .doubleShift(_, let size, _, _):
      return size
    case .vectorMove(let move): return move.size
    }
  }

  /// The memory operand as the processor forms it for these registers: BT's register form
  /// adds the unit its bit offset selects, which may lie below or above the operand ModRM
  /// names (BitArithmetic.registerBitOffset); every other form is the decoded operand.
  public func operand(registers: GuestRegisters) -> MemoryOperand? {
    guard var operand else { return nil }
    if case .bitTest(_, let size, .register(let number)) = instruction {
      let (displacement, _) = BitArithmetic.registerBitOffset(registers[number], size: size)
      operand.displacement &+= displacement
    }
    return operand
  }
}
