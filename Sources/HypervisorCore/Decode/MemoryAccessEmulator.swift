/// Carries out a decoded MMIO access against a device model and updates the guest's
/// registers as the instruction would have.
public enum MemoryAccessEmulator {
  /// The most repetitions of a string instruction one exit performs. A longer REP is left
  /// interrupted, as the processor leaves it for an interrupt (SDM Vol 2 REP: the registers
  /// show the progress, RIP stays on the instruction), so the guest re-executes it and exits
  /// again: each exit costs at most this many device accesses, and interrupts are taken in
  /// between (docs/hardening.md).
  public static let maximumIterationsPerExit: UInt64 = 64

  /// Performs the access: `read(size)` returns the device's value for a load and
  /// `write(size, value)` stores one. Updates the destination register (merging 8- and 16-bit
  /// writes, zero-extending 32-bit ones as 64-bit mode does, SDM Vol 1 §3.4.1.1), RDI and RCX
  /// for STOS, and advances RIP by the instruction's length once the instruction is done.
  ///
  /// `controlRegister0` is CR0 as the guest sees it, the value SMSW stores (its low word).
  /// `vectorImage` is the guest's 512-byte FXSAVE image, which SSE and MMX moves read or
  /// write; through this entry a 16-byte move calls `read`/`write` twice, low half first
  /// (`executeVector` gives the halves' offsets).
  ///
  /// STOS calls `write` once per repetition: (E/R)CX times for REP (none when it is zero),
  /// but at most `iterations` times; the k-th call (from 0) targets the starting (E/R)DI plus
  /// k × size, or minus with RFLAGS.DF. A REP whose count is not exhausted keeps RIP, so the
  /// guest executes it again (SDM Vol 2 REP). Returns the number of repetitions done.
  @discardableResult
  public static func execute(
    _ access: DecodedMemoryAccess, registers: inout GuestRegisters,
    iterations limit: UInt64 = maximumIterationsPerExit, controlRegister0: UInt64 = 0,
    vectorImage: UnsafeMutableRawPointer? = nil,
    read: (UInt8) -> UInt64,
    write: (UInt8, UInt64) -> Void
  ) -> UInt64 {
    switch access.instruction {
    case .load(let size, let destination, let highByte, let extension_, let destinationSize):
      let raw = read(size) & mask(size)
      let value = extension_ == .sign ? signExtend(raw, from: size) : raw
      let old = registers[destination]
      registers[destination] =
        highByte
        ? old & ~0xFF00 | (value & 0xFF) << 8
        : merge(value, into: old, size: destinationSize)

    case .store(let size, let source):
      let value: UInt64
      switch source {
      case .register(let number, let highByte):
        value = highByte ? registers[number] >> 8 : registers[number]
      case .immediate(let immediate):
        value = immediate
      case .machineStatusWord:
        value = controlRegister0
      }
      write(size, value & mask(size))

    case .arithmetic(let operation, let size, let source, let registerDestination):
      let memory = read(size) & mask(size)
      if registerDestination, case .register(let number, let highByte) = source {
        // op Gv, Ev: the register is the left operand and the destination.
        let old = registers[number]
        let left = highByte ? old >> 8 : old
        let (result, flags) = operation.apply(
          destination: left, source: memory, size: size, flags: registers.rflags)
        registers.rflags = flags
        if operation.writesResult {
          registers[number] =
            highByte ? old & ~0xFF00 | (result & 0xFF) << 8 : merge(result, into: old, size: size)
        }
      } else {
        let right: UInt64
        switch source {
        case .register(let number, let highByte):
          right = highByte ? registers[number] >> 8 : registers[number]
        case .immediate(let immediate): right = immediate
        case .machineStatusWord: right = controlRegister0
        }
        let (result, flags) = operation.apply(
          destination: memory, source: right, size: size, flags: registers.rflags)
        registers.rflags = flags
        if operation.writesResult { write(size, result) }
      }

    case .exchange(let size, let number, let highByte):
      // XCHG: TEMP <- DEST; DEST <- SRC; SRC <- TEMP (SDM Vol 2 XCHG). No flags.
      let memory = read(size) & mask(size)
      write(size, register(number, highByte: highByte, in: registers) & mask(size))
      setRegister(number, highByte: highByte, size: size, to: memory, in: &registers)

    case .exchangeAdd(let size, let number, let highByte):
      // XADD: TEMP <- SRC + DEST; SRC <- DEST; DEST <- TEMP, flags as ADD (SDM Vol 2 XADD).
      let memory = read(size) & mask(size)
      let (sum, flags) = ArithmeticOperation.add.apply(
        destination: memory, source: register(number, highByte: highByte, in: registers),
        size: size, flags: registers.rflags)
      write(size, sum)
      registers.rflags = flags
      setRegister(number, highByte: highByte, size: size, to: memory, in: &registers)

    case .compareExchange(let size, let number, let highByte):
      // CMPXCHG (SDM Vol 2): TEMP <- DEST; flags as CMP accumulator, TEMP; equal: DEST <-
      // SRC; else the accumulator <- TEMP and DEST <- TEMP, "the processor never produces a
      // locked read without also producing a locked write", so memory is written either way.
      let memory = read(size) & mask(size)
      let (_, flags) = ArithmeticOperation.cmp.apply(
        destination: registers.rax, source: memory, size: size, flags: registers.rflags)
      registers.rflags = flags
      if flags & (1 << 6) != 0 {
        write(size, register(number, highByte: highByte, in: registers) & mask(size))
      } else {
        write(size, memory)
        registers.rax = merge(memory, into: registers.rax, size: size)
      }

    case .bitTest, .bitScan, .signedMultiply, .doubleShift:
      executeBitOperation(access.instruction, registers: &registers, read: read, write: write)

    case .vectorMove(let move):
      // Without the register image there is no register to move: nothing is done and RIP
      // stays, so a caller that forgot it re-executes rather than corrupting state.
      guard let vectorImage else { return 0 }
      executeVector(
        move, image: vectorImage, read: { _, size in read(size) },
        write: { _, size, value in write(size, value) })

    case .string:
      // Every element of both operands goes to the one device, in the order the processor
      // touches them; the MMIO handler routes each operand itself (executeString).
      return executeString(
        access, registers: &registers, iterations: limit, begin: { _, _, _ in true },
        read: { _, _, size in read(size) }, write: { _, size, value in write(size, value) })

    case .storeString(let size, let repeated, let addressSize):
      // SDM Vol 2 STOS and REP: the count and index registers are as wide as the address.
      let count = repeated ? registers.rcx & mask(addressSize) : 1
      let done = min(count, max(limit, 1))
      let step = stringStep(size: size, rflags: registers.rflags)
      let value = registers.rax & mask(size)
      var remaining = done
      while remaining != 0 {
        write(size, value)
        remaining -= 1
      }
      registers.rdi = merge(registers.rdi &+ step &* done, into: registers.rdi, size: addressSize)
      if repeated { registers.rcx = merge(count - done, into: registers.rcx, size: addressSize) }
      // An unfinished REP leaves RIP on the instruction (SDM Vol 2 REP).
      if count != done { return done }
      registers.rip &+= UInt64(access.length)
      return done
    }
    registers.rip &+= UInt64(access.length)
    return 1
  }

  /// A general-purpose register as an operand: with `highByte`, bits 15:8 (AH-BH).
  @inline(__always)
  static func register(_ number: Int, highByte: Bool, in registers: GuestRegisters) -> UInt64 {
    highByte ? registers[number] >> 8 : registers[number]
  }

  /// Writes a `size`-byte result into a register, AH-BH included (see `merge`).
  @inline(__always)
  static func setRegister(
    _ number: Int, highByte: Bool, size: UInt8, to value: UInt64,
    in registers: inout GuestRegisters
  ) {
    let old = registers[number]
    registers[number] =
      highByte ? old & ~0xFF00 | (value & 0xFF) << 8 : merge(value, into: old, size: size)
  }

  /// What one repetition adds to the index registers: the element size, negated when
  /// RFLAGS.DF (bit 10) is set (SDM Vol 1 §3.4.3.2).
  @inline(__always)
  public static func stringStep(size: UInt8, rflags: UInt64) -> UInt64 {
    rflags & (1 << 10) != 0 ? 0 &- UInt64(size) : UInt64(size)
  }

  /// The index register after `count` more steps, written at `addressSize` (16-bit DI wraps
  /// and keeps the upper bits of RDI; 32-bit EDI zero-extends in 64-bit mode).
  @inline(__always)
  public static func advanceIndex(
    _ register: UInt64, by step: UInt64, count: UInt64, addressSize: UInt8
  ) -> UInt64 {
    merge(register &+ step &* count, into: register, size: addressSize)
  }

  /// All ones in the low `size` bytes.
  @inline(__always)
  static func mask(_ size: UInt8) -> UInt64 {
    size >= 8 ? ~0 : (1 << (UInt64(size) * 8)) - 1
  }

  @inline(__always)
  private static func signExtend(_ value: UInt64, from size: UInt8) -> UInt64 {
    guard size < 8 else { return value }
    let unused = 64 - UInt64(size) * 8
    return UInt64(bitPattern: Int64(bitPattern: value << unused) >> unused)
  }

  /// A register write of `size` bytes: 8- and 16-bit writes keep the upper bits, 32-bit
  /// writes clear bits 63:32 (SDM Vol 1 §3.4.1.1), 64-bit writes replace all.
  @inline(__always)
  static func merge(_ value: UInt64, into old: UInt64, size: UInt8) -> UInt64 {
    switch size {
    case 1, 2: return old & ~mask(size) | value & mask(size)
    case 4: return value & 0xFFFF_FFFF
    default: return value
    }
  }
}
