extension MemoryAccessEmulator {
  /// BT*, BSF/BSR, IMUL and SHLD/SHRD on the memory operand `read` and `write` reach
  /// (for BT's register form, the unit its offset selects, which the caller located with
  /// `DecodedMemoryAccess.operand(registers:)`). RIP is advanced by the caller.
  static func executeBitOperation(
    _ instruction: MemoryAccessInstruction, registers: inout GuestRegisters,
    read: (UInt8) -> UInt64, write: (UInt8, UInt64) -> Void
  ) {
    switch instruction {
    case .bitTest(let operation, let size, let offset):
      let bit: UInt64
      switch offset {
      case .immediate(let value): bit = UInt64(value) & (UInt64(size) * 8 - 1)
      case .register(let number):
        bit = BitArithmetic.registerBitOffset(registers[number], size: size).bit
      }
      let memory = read(size) & mask(size)
      let (result, flags) = operation.apply(memory, bit: bit, flags: registers.rflags)
      registers.rflags = flags
      // BT only reads; the others write even an unchanged value, as the locked
      // read-modify-write they are does.
      if operation != .test { write(size, result) }

    case .bitScan(let reverse, let size, let destination):
      let (index, flags) = BitArithmetic.scan(
        read(size), size: size, reverse: reverse, flags: registers.rflags)
      registers.rflags = flags
      if let index {
        registers[destination] = merge(index, into: registers[destination], size: size)
      }

    case .signedMultiply(let size, let destination, let immediate):
      let memory = read(size) & mask(size)
      let (product, flags) = BitArithmetic.signedMultiply(
        memory, immediate ?? registers[destination], size: size, flags: registers.rflags)
      registers.rflags = flags
      registers[destination] = merge(product, into: registers[destination], size: size)

    case .doubleShift(let left, let size, let number, let count):
      let memory = read(size) & mask(size)
      let amount: UInt64
      switch count {
      case .immediate(let value): amount = UInt64(value)
      case .cl: amount = registers.rcx & 0xFF
      }
      // A count of 0 (after masking) changes nothing: no write, flags kept.
      if let (result, flags) = BitArithmetic.doubleShift(
        memory, registers[number], count: amount, size: size, left: left,
        flags: registers.rflags)
      {
        registers.rflags = flags
        write(size, result)
      }

    default:
      break
    }
  }

  /// An SSE or MMX move between memory and the guest's register in its FXSAVE `image`
  /// (512 bytes, the world switch's copy). `read(offset, size)` and `write(offset, size,
  /// value)` reach bytes `offset ..< offset + size` of the memory operand; a 16-byte move is
  /// two 8-byte halves, low first. Loads zero the register's bytes above the operand
  /// (MOVD/MOVQ/MOVSS/MOVSD from memory clear the rest of the XMM register; MOVD mm, m32
  /// zero-extends, SDM Vol 2). Any MMX move also sets TOP to 0 and every x87 tag valid, and
  /// a load sets the register's bits 79:64 to all ones (SDM Vol 1 §9.5.1, Table 9-1).
  public static func executeVector(
    _ move: VectorMove, image: UnsafeMutableRawPointer,
    read: (_ offset: UInt8, _ size: UInt8) -> UInt64,
    write: (_ offset: UInt8, _ size: UInt8, _ value: UInt64) -> Void
  ) {
    let slot = image + move.imageOffset
    let halves = move.size == 16 ? 2 : 1
    let partSize = min(move.size, 8)
    if move.isStore {
      for half in 0..<halves {
        let value = slot.loadUnaligned(fromByteOffset: half * 8, as: UInt64.self)
        write(UInt8(half * 8), partSize, value & mask(partSize))
      }
    } else {
      var parts: (UInt64, UInt64) = (0, 0)
      parts.0 = read(0, partSize) & mask(partSize)
      if halves == 2 { parts.1 = read(8, partSize) & mask(partSize) }
      slot.storeBytes(of: parts.0, toByteOffset: 0, as: UInt64.self)
      if move.file == .xmm {
        slot.storeBytes(of: parts.1, toByteOffset: 8, as: UInt64.self)
      } else {
        slot.storeBytes(of: UInt16.max, toByteOffset: 8, as: UInt16.self)
      }
    }
    if move.file == .mmx {
      // FSW (offset 2) TOP, bits 13:11, to 0; abridged FTW (offset 4) all valid.
      let status = image.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
      image.storeBytes(of: status & ~0x3800, toByteOffset: 2, as: UInt16.self)
      image.storeBytes(of: UInt8.max, toByteOffset: 4, as: UInt8.self)
    }
  }
}
