// fuzz-modules: HypervisorCore
// The MMIO path after the decoder: MemoryAccessEmulator.execute with guest registers the
// fuzzer chooses, against a fake device that counts its accesses.
//
// Invariants, each one a guest-visible rule:
// - RIP moves by the decoded length, or not at all (a chunked REP STOS that will be resumed);
// - one exit costs at most `maximumDeviceAccesses` device accesses, whatever RCX holds, so
//   a guest cannot hold a physical CPU in the hypervisor;
// - a REP STOS that leaves RIP alone has made progress (RCX counted down by the stores done);
// - MOVS/CMPS/LODS/SCAS move rSI/rDI and count rCX by the elements done, end a REP only at
//   rCX = 0 or on the REPE/REPNE condition, and stop early only at the chunk bound;
// - XCHG, XADD, CMPXCHG read once and write once; CMPXCHG's ZF is the comparison;
// - registers other than the destination, RDI, RCX and RIP keep their values.
//
// Input: byte 0 the width (low 2 bits), byte 1 the instruction's length n (up to 15), n
// instruction bytes, then little-endian 8-byte values for RAX, RCX, RDX, RBX, RSP, RBP, RSI,
// RDI, R8-R15, RFLAGS, RIP and the value the device returns on reads (zeros once the input
// runs out).
import HypervisorCore

/// The most device accesses one call may make. A REP STOS over more must be split into
/// chunks, each its own exit, so that interrupts and other vCPUs are not held off.
let maximumDeviceAccesses = 4096

/// Reads the input front to back; past its end every value is zero.
struct InputReader {
  let data: UnsafePointer<UInt8>
  let size: Int
  var position = 0

  mutating func byte() -> UInt8 {
    guard position < size else { return 0 }
    defer { position += 1 }
    return data[position]
  }

  mutating func word() -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<8 { value |= UInt64(byte()) << UInt64(index * 8) }
    return value
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  var input = InputReader(data: data, size: size)
  let widths: [GuestMode.Width] = [.real, .protected16, .protected32, .long64]
  let width = widths[Int(input.byte() & 3)]
  let count = min(Int(input.byte()), InstructionBytes.maximumCount)
  var bytes = InstructionBytes()
  for _ in 0..<count where input.position < size { bytes.append(input.byte()) }
  guard case .success(let access) = MemoryAccessDecoder.decode(bytes, width: width) else {
    return 0
  }

  var registers = GuestRegisters()
  for number in 0..<16 { registers[number] = input.word() }
  registers.rflags = input.word()
  registers.rip = input.word()
  let deviceValue = input.word()
  let before = registers

  // The FXSAVE image the vector moves use: filled from the device value so that stores
  // have something to check against.
  let image = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 16)
  defer { image.deallocate() }
  for offset in stride(from: 0, to: 512, by: 8) {
    image.storeBytes(of: deviceValue &+ UInt64(offset), toByteOffset: offset, as: UInt64.self)
  }
  var reads = 0
  var writes = 0
  MemoryAccessEmulator.execute(
    access, registers: &registers, vectorImage: image,
    read: { size in
      precondition([1, 2, 4, 8].contains(size), "device read of an odd size")
      reads += 1
      precondition(reads + writes <= maximumDeviceAccesses, "too many device accesses in one exit")
      return deviceValue
    },
    write: { size, value in
      precondition([1, 2, 4, 8].contains(size), "device write of an odd size")
      precondition(size == 8 || value >> (UInt64(size) * 8) == 0, "value wider than the access")
      writes += 1
      precondition(reads + writes <= maximumDeviceAccesses, "too many device accesses in one exit")
    })

  let advanced = registers.rip == before.rip &+ UInt64(access.length)
  precondition(advanced || registers.rip == before.rip, "RIP moved by other than the length")
  var changeable: Set<Int> = []
  switch access.instruction {
  case .load(_, let destination, _, _, _):
    precondition(reads == 1 && writes == 0, "a load is one read")
    precondition(advanced, "a load completes")
    changeable.insert(destination)  // with highByte, AH-BH live in registers 0-3
  case .store:
    precondition(reads == 0 && writes == 1, "a store is one write")
    precondition(advanced, "a store completes")
  case .arithmetic(_, _, let source, let registerDestination):
    // Read-modify-write at most: CMP and TEST, and op Gv, Ev, write no memory.
    precondition(reads == 1 && writes <= 1, "an ALU instruction reads its operand once")
    precondition(advanced, "an ALU instruction completes")
    if registerDestination {
      precondition(writes == 0, "op Gv, Ev writes its register, not memory")
      if case .register(let number, _) = source { changeable.insert(number) }
    }
  case .storeString(let size, let repeated, let addressSize):
    precondition(reads == 0, "STOS does not read the device")
    changeable = [1, 7]  // RCX, RDI
    let mask: UInt64 = addressSize == 8 ? ~0 : (1 << (UInt64(addressSize) * 8)) - 1
    let countBefore = repeated ? before.rcx & mask : 1
    if advanced {
      precondition(UInt64(writes) == countBefore, "a finished STOS stores (E/R)CX times")
      if repeated { precondition(registers.rcx & mask == 0, "a finished REP STOS leaves CX 0") }
    } else {
      precondition(repeated && writes > 0, "a STOS that is resumed has made progress")
      precondition(
        registers.rcx & mask == countBefore - UInt64(writes), "CX counts the stores done")
    }
    // SDM Vol 2 STOS: (E/R)DI moves by the operand size per store, down when RFLAGS.DF.
    let step = before.rflags & (1 << 10) != 0 ? 0 &- UInt64(size) : UInt64(size)
    let expected = (before.rdi &+ step &* UInt64(writes)) & mask
    precondition(registers.rdi & mask == expected, "(E/R)DI moved by the stores done")
    // Bits above the address size keep their values (16- and 32-bit addressing)...
    if addressSize == 2 {
      precondition(registers.rdi & ~mask == before.rdi & ~mask, "RDI's upper bits kept")
    }
  case .string(let operation, let size, let repeatPrefix, let addressSize, _):
    // Every element is whole: MOVS one read and one write, CMPS two reads, LODS and SCAS one
    // read (SDM Vol 2 each page); no element is split across device calls.
    let elements: Int
    switch operation {
    case .movs:
      precondition(reads == writes, "MOVS writes each element it reads")
      elements = reads
    case .cmps:
      precondition(writes == 0 && reads % 2 == 0, "CMPS reads two operands per element")
      elements = reads / 2
    case .lods, .scas:
      precondition(writes == 0, "LODS and SCAS do not write memory")
      elements = reads
    }
    precondition(elements <= Int(MemoryAccessEmulator.maximumIterationsPerExit), "chunk bound")
    changeable = [1, 6, 7]  // RCX, RSI, RDI
    if operation == .lods { changeable.insert(0) }
    let mask: UInt64 = addressSize == 8 ? ~0 : (1 << (UInt64(addressSize) * 8)) - 1
    let repeated = repeatPrefix != .none
    let countBefore = repeated ? before.rcx & mask : 1
    let done = UInt64(elements)
    precondition(done <= countBefore, "more elements than rCX")
    if repeated {
      precondition(registers.rcx & mask == countBefore - done, "rCX counts the elements done")
    } else {
      precondition(registers.rcx == before.rcx, "no REP, rCX kept")
    }
    if advanced {
      // Ends when rCX reaches 0, or a CMPS/SCAS's ZF ends a REPE/REPNE (SDM Vol 2 REP).
      let zero = registers.rflags & (1 << 6) != 0
      let endedByFlag =
        operation == .cmps || operation == .scas
        ? (repeatPrefix == .repeatWhileEqual ? !zero : zero) : false
      precondition(
        !repeated || registers.rcx & mask == 0 || (done > 0 && endedByFlag),
        "a REP ended before its count or its condition")
    } else {
      precondition(repeated && done > 0, "a string instruction that is resumed made progress")
      precondition(
        done == MemoryAccessEmulator.maximumIterationsPerExit, "a chunk ends only at the bound")
    }
    let step = before.rflags & (1 << 10) != 0 ? 0 &- UInt64(size) : UInt64(size)
    let expected = { (index: UInt64) in (index &+ step &* done) & mask }
    let movesSource = operation != .scas
    let movesDestination = operation != .lods
    precondition(
      registers.rsi & mask == (movesSource ? expected(before.rsi) : before.rsi & mask),
      "rSI moved by the elements done")
    precondition(
      registers.rdi & mask == (movesDestination ? expected(before.rdi) : before.rdi & mask),
      "rDI moved by the elements done")
    if addressSize == 2 {
      precondition(registers.rsi & ~mask == before.rsi & ~mask, "RSI's upper bits kept")
      precondition(registers.rdi & ~mask == before.rdi & ~mask, "RDI's upper bits kept")
    }
  case .exchange(_, let number, _), .exchangeAdd(_, let number, _):
    precondition(reads == 1 && writes == 1, "XCHG and XADD read and write once")
    precondition(advanced, "XCHG and XADD complete")
    changeable.insert(number)
  case .compareExchange(let size, _, _):
    // One locked read and one write, whatever the comparison gives (SDM Vol 2 CMPXCHG).
    precondition(reads == 1 && writes == 1, "CMPXCHG reads and writes once")
    precondition(advanced, "CMPXCHG completes")
    let mask: UInt64 = size == 8 ? ~0 : (1 << (UInt64(size) * 8)) - 1
    let equal = before.rax & mask == deviceValue & mask
    precondition((registers.rflags & (1 << 6) != 0) == equal, "ZF is the comparison")
    if equal {
      precondition(registers.rax == before.rax, "a successful CMPXCHG keeps the accumulator")
    } else {
      precondition(registers.rax & mask == deviceValue & mask, "the accumulator gets memory")
      changeable.insert(0)
    }
  case .bitTest(let operation, _, _):
    // BT reads; BTS/BTR/BTC write what they read with one bit changed (or kept).
    precondition(reads == 1 && writes == (operation == .test ? 0 : 1), "BT* read-modify-write")
    precondition(advanced, "BT* completes")
  case .bitScan(_, let size, let number):
    precondition(reads == 1 && writes == 0, "BSF/BSR read once")
    precondition(advanced, "BSF/BSR complete")
    let mask: UInt64 = size == 8 ? ~0 : (1 << (UInt64(size) * 8)) - 1
    let zero = deviceValue & mask == 0
    precondition((registers.rflags & (1 << 6) != 0) == zero, "ZF is a zero source")
    if zero {
      precondition(registers[number] == before[number], "a zero source keeps the register")
    } else {
      precondition(registers[number] & mask < UInt64(size) * 8, "an index within the operand")
    }
    changeable.insert(number)
  case .signedMultiply(_, let number, _):
    precondition(reads == 1 && writes == 0, "IMUL reads memory once")
    precondition(advanced, "IMUL completes")
    changeable.insert(number)
  case .doubleShift:
    precondition(reads == 1 && writes <= 1, "SHLD/SHRD read-modify-write")
    precondition(advanced, "SHLD/SHRD complete")
  case .vectorMove(let move):
    precondition(advanced, "a vector move completes")
    let parts = move.size == 16 ? 2 : 1
    precondition(
      move.isStore ? writes == parts && reads == 0 : reads == parts && writes == 0,
      "a vector move is one access per 8 bytes")
  }
  for number in 0..<16 where !changeable.contains(number) {
    precondition(registers[number] == before[number], "an unrelated register changed")
  }
  // Only an ALU instruction sets flags, and only the six status flags (SDM Vol 1 §3.4.3.1:
  // CF, PF, AF, ZF, SF, OF); everything else in RFLAGS is kept.
  var flagsSet: UInt64 = 0
  switch access.instruction {
  // NOT sets none, INC and DEC all but CF (SDM Vol 2 NOT, INC, DEC).
  case .arithmetic(let operation, _, _, _): flagsSet = operation.flagsWritten
  case .exchangeAdd, .compareExchange: flagsSet = 0x8D5
  // CF only (SDM Vol 2 BT); ZF only (BSF, BSR); CF and OF (IMUL); CF, PF, ZF, SF, OF (SHLD).
  case .bitTest: flagsSet = 0x1
  case .bitScan: flagsSet = 0x40
  case .signedMultiply: flagsSet = 0x801
  case .doubleShift: flagsSet = 0x8C5
  case .string(let operation, _, _, _, _) where operation == .cmps || operation == .scas:
    flagsSet = 0x8D5
  default: break
  }
  precondition(registers.rflags & ~flagsSet == before.rflags & ~flagsSet, "RFLAGS changed")
  return 0
}
