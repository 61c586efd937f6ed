import HypervisorCore
import XCTest

/// MOVS/CMPS/LODS/SCAS, XCHG, CMPXCHG and XADD in the MMIO emulator, on flat memory the
/// tests own (SDM Vol 2, each instruction's page; REP/REPE/REPNE).
final class MemoryAccessStringTests: XCTestCase {
  private var registers = GuestRegisters()
  /// Byte-addressed memory: linear address -> byte (absent bytes read as 0).
  private var memory: [UInt64: UInt8] = [:]
  private var elementReads: [(StringOperand, UInt64, UInt8)] = []

  override func setUp() {
    registers = GuestRegisters()
    registers.rip = 0x1000
    memory = [:]
    elementReads = []
  }

  private func decode(_ hex: String, _ width: GuestMode.Width = .long64) throws
    -> DecodedMemoryAccess
  {
    try MemoryAccessDecoder.decode(instruction(hex), width: width).get()
  }

  private func fill(_ start: UInt64, _ bytes: [UInt8]) {
    for (index, byte) in bytes.enumerated() { memory[start + UInt64(index)] = byte }
  }

  private func load(_ linear: UInt64, _ size: UInt8) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<UInt64(size) { value |= UInt64(memory[linear + index] ?? 0) << (index * 8) }
    return value
  }

  /// Runs a string instruction; `allow(k)` answers `begin` for element k.
  @discardableResult
  private func run(
    _ access: DecodedMemoryAccess, segments: StringSegments = .flat, limit: UInt64 = 64,
    allow: (UInt64) -> Bool = { _ in true }
  ) -> UInt64 {
    MemoryAccessEmulator.executeString(
      access, registers: &registers, segments: segments, iterations: limit,
      begin: { index, _, _ in allow(index) },
      read: { operand, linear, size in
        self.elementReads.append((operand, linear, size))
        return self.load(linear, size)
      },
      write: { linear, size, value in
        for index in 0..<UInt64(size) {
          self.memory[linear + index] = UInt8(truncatingIfNeeded: value >> (index * 8))
        }
      })
  }

  // MARK: Decoding

  func testDecodesTheStringForms() throws {
    XCTAssertEqual(
      try decode("f3 a4").instruction,
      .string(
        operation: .movs, size: 1, repeat: .repeatWhileEqual, addressSize: 8, sourceSegment: .ds))
    XCTAssertEqual(
      try decode("f2 48 a7").instruction,
      .string(
        operation: .cmps, size: 8, repeat: .repeatWhileNotEqual, addressSize: 8,
        sourceSegment: .ds))
    // 64 66 AD: LODSW from FS:[RSI].
    XCTAssertEqual(
      try decode("64 66 ad").instruction,
      .string(operation: .lods, size: 2, repeat: .none, addressSize: 8, sourceSegment: .fs))
    // 67 AE in 32-bit code: SCASB with 16-bit addressing; the operand is ES:DI.
    let scas = try decode("67 ae", .protected32)
    XCTAssertEqual(
      scas.instruction,
      .string(operation: .scas, size: 1, repeat: .none, addressSize: 2, sourceSegment: .ds))
    XCTAssertEqual(scas.operand, MemoryOperand(segment: .es, base: 7, addressSize: 2))
    XCTAssertEqual(scas.length, 2)
  }

  func testTheLastRepeatPrefixDecidesBetweenREPEAndREPNE() throws {
    guard case .string(_, _, let first, _, _) = try decode("f2 f3 a6").instruction,
      case .string(_, _, let second, _, _) = try decode("f3 f2 a6").instruction
    else { return XCTFail("not decoded as CMPS") }
    XCTAssertEqual(first, .repeatWhileEqual)
    XCTAssertEqual(second, .repeatWhileNotEqual)
  }

  func testDecodesExchangeForms() throws {
    // 86 07: XCHG [RDI], AL; 48 87 0F: XCHG [RDI], RCX; 86 27: XCHG [RDI], AH.
    XCTAssertEqual(
      try decode("86 07").instruction, .exchange(size: 1, register: 0, highByte: false))
    XCTAssertEqual(
      try decode("48 87 0f").instruction, .exchange(size: 8, register: 1, highByte: false))
    XCTAssertEqual(try decode("86 27").instruction, .exchange(size: 1, register: 0, highByte: true))
    // F0 0F B1 17: LOCK CMPXCHG [RDI], EDX; 44 0F C1 07: XADD [RDI], R8D.
    XCTAssertEqual(
      try decode("f0 0f b1 17").instruction,
      .compareExchange(size: 4, register: 2, highByte: false))
    XCTAssertEqual(
      try decode("44 0f c1 07").instruction, .exchangeAdd(size: 4, register: 8, highByte: false))
    XCTAssertEqual(
      MemoryAccessDecoder.decode(instruction("87 c8"), width: .long64),
      .failure(.registerOperandNotMemory))
  }

  // MARK: MOVS, LODS

  func testRepMovsbCopiesAndCounts() throws {
    fill(0x100, [1, 2, 3, 4, 5])
    registers.rsi = 0x100
    registers.rdi = 0x200
    registers.rcx = 5
    XCTAssertEqual(run(try decode("f3 a4")), 5)
    XCTAssertEqual((0..<5).map { load(0x200 + $0, 1) }, [1, 2, 3, 4, 5])
    XCTAssertEqual(registers.rsi, 0x105)
    XCTAssertEqual(registers.rdi, 0x205)
    XCTAssertEqual(registers.rcx, 0)
    XCTAssertEqual(registers.rip, 0x1002)
  }

  func testMovsWithDirectionFlagMovesDown() throws {
    fill(0x100, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
    registers.rflags = 0x402  // DF
    registers.rsi = 0x104
    registers.rdi = 0x204
    registers.rcx = 2
    // F3 A5: REP MOVSD, down: copies the dword at 0x104, then the one at 0x100.
    run(try decode("f3 a5"))
    XCTAssertEqual(load(0x200, 8), 0x8877_6655_4433_2211)
    XCTAssertEqual(registers.rsi, 0xFC)
    XCTAssertEqual(registers.rdi, 0x1FC)
  }

  func testSixteenBitAddressingWrapsSIAndKeepsTheUpperBits() throws {
    registers.rsi = 0xAAAA_0000_0000_FFFF
    registers.rdi = 0x10
    registers.rcx = 0xFFFF_0000_0000_0001
    // 67 F3 A4 in 32-bit code: REP MOVSB with SI, DI and CX.
    fill(0xFFFF, [0x5A])
    run(
      try decode("67 f3 a4", .protected32),
      segments: StringSegments(sourceBase: 0, destinationBase: 0, linear64: false))
    XCTAssertEqual(load(0x10, 1), 0x5A)
    XCTAssertEqual(registers.rsi, 0xAAAA_0000_0000_0000, "SI wrapped to 0, upper bits kept")
    XCTAssertEqual(registers.rcx, 0xFFFF_0000_0000_0000, "CX counted, upper bits kept")
  }

  func testThirtyTwoBitAddressingInLongModeZeroExtends() throws {
    registers.rsi = 0x1234_5678_0000_0100
    registers.rdi = 0xFFFF_0000_0000_0200
    fill(0x100, [0x77])
    // 67 A4: MOVSB with ESI/EDI.
    run(try decode("67 a4"))
    XCTAssertEqual(load(0x200, 1), 0x77)
    XCTAssertEqual(registers.rsi, 0x101)
    XCTAssertEqual(registers.rdi, 0x201)
  }

  func testLodsLoadsTheAccumulatorAsAMovWould() throws {
    fill(0x300, [0xEF, 0xBE, 0xAD, 0xDE])
    registers.rax = 0xFFFF_FFFF_FFFF_FFFF
    registers.rsi = 0x300
    XCTAssertEqual(run(try decode("66 ad")), 1)
    XCTAssertEqual(registers.rax, 0xFFFF_FFFF_FFFF_BEEF, "LODSW merges AX")
    registers.rsi = 0x300
    run(try decode("ad"))
    XCTAssertEqual(registers.rax, 0xDEAD_BEEF, "LODSD zero-extends into RAX")
    XCTAssertEqual(registers.rsi, 0x304)
    XCTAssertTrue(elementReads.allSatisfy { $0.0 == .source })
  }

  func testSegmentBasesFormTheLinearAddresses() throws {
    fill(0x1_0040, [0x99])
    registers.rsi = 0x40
    registers.rdi = 0x80
    run(
      try decode("a4", .protected32),
      segments: StringSegments(sourceBase: 0x1_0000, destinationBase: 0x2_0000, linear64: false))
    XCTAssertEqual(load(0x2_0080, 1), 0x99)
  }

  // MARK: CMPS, SCAS

  func testRepeCmpsbStopsAtTheFirstDifference() throws {
    // The kvm-unit-tests emulator case: equal for 100 bytes, then different; 130 to go.
    fill(0x1000, (0..<200).map { UInt8($0 < 100 ? $0 : $0 + 1) })
    fill(0x2000, (0..<200).map { UInt8($0) })
    registers.rsi = 0x1000
    registers.rdi = 0x2000
    registers.rcx = 130
    let cmps = try decode("f3 a6")
    var exits = 0
    while registers.rip == 0x1000 && exits < 10 {
      run(cmps)
      exits += 1
    }
    XCTAssertEqual(exits, 2, "64 elements per exit")
    XCTAssertEqual(registers.rcx, 29)
    XCTAssertEqual(registers.rsi, 0x1000 + 101)
    XCTAssertEqual(registers.rdi, 0x2000 + 101)
    XCTAssertEqual(registers.rflags & 0x40, 0, "ZF clear: the last elements differed")
  }

  func testCmpsSetsFlagsAsCmpOfSourceMinusDestination() throws {
    fill(0x100, [0x01])
    fill(0x200, [0x02])
    registers.rsi = 0x100
    registers.rdi = 0x200
    run(try decode("a6"))
    // 1 - 2 = 0xFF: CF, SF, AF set; ZF, OF clear; PF set (eight ones).
    XCTAssertEqual(registers.rflags & ArithmeticOperation.statusFlags, 0x95)
    XCTAssertEqual(elementReads.map { $0.0 }, [.source, .destination])
  }

  func testRepneScasFindsTheByte() throws {
    fill(0x500, [9, 8, 7, 6, 5])
    registers.rax = 0x7
    registers.rdi = 0x500
    registers.rcx = 5
    run(try decode("f2 ae"))
    XCTAssertEqual(registers.rdi, 0x503, "one past the match")
    XCTAssertEqual(registers.rcx, 2)
    XCTAssertNotEqual(registers.rflags & 0x40, 0)
    XCTAssertEqual(registers.rip, 0x1002)
    XCTAssertTrue(elementReads.allSatisfy { $0.0 == .destination })
  }

  func testScasCompareTakesTheAccumulatorFirst() throws {
    fill(0x500, [0x10, 0x00])
    registers.rax = 0x0F
    registers.rdi = 0x500
    run(try decode("66 af"))
    XCTAssertEqual(registers.rflags & 1, 1, "0x000F - 0x0010 borrows")
  }

  // MARK: REP bounds

  func testRepWithZeroCountOnlyAdvancesRIP() throws {
    registers.rcx = 0
    registers.rflags = 0x2
    XCTAssertEqual(run(try decode("f3 a6")), 0)
    XCTAssertEqual(registers.rip, 0x1002)
    XCTAssertTrue(elementReads.isEmpty)
    XCTAssertEqual(registers.rflags, 0x2, "no element, no flags")
  }

  func testAHugeRepRunsInBoundedChunksAndKeepsRIP() throws {
    registers.rcx = 1 << 40
    registers.rsi = 0x100
    registers.rdi = 0x10_0000
    XCTAssertEqual(run(try decode("f3 48 a5")), 64)
    XCTAssertEqual(registers.rip, 0x1000, "re-executed for the rest")
    XCTAssertEqual(registers.rcx, (1 << 40) - 64)
    XCTAssertEqual(registers.rsi, 0x100 + 64 * 8)
  }

  func testARefusedElementEndsTheChunkBeforeIt() throws {
    registers.rcx = 10
    registers.rsi = 0x100
    registers.rdi = 0x200
    XCTAssertEqual(run(try decode("f3 a4"), allow: { $0 < 3 }), 3)
    XCTAssertEqual(registers.rcx, 7)
    XCTAssertEqual(registers.rsi, 0x103)
    XCTAssertEqual(registers.rip, 0x1000)
    XCTAssertEqual(run(try decode("a4"), allow: { _ in false }), 0)
    XCTAssertEqual(registers.rip, 0x1000, "not even one: nothing happens")
  }

  // MARK: XCHG, CMPXCHG, XADD

  private func execute(_ instruction: MemoryAccessInstruction, memory value: UInt64) -> [UInt64] {
    var written: [UInt64] = []
    MemoryAccessEmulator.execute(
      DecodedMemoryAccess(instruction: instruction, length: 3), registers: &registers,
      read: { _ in value }, write: { _, value in written.append(value) })
    return written
  }

  func testExchangeSwapsRegisterAndMemory() {
    registers.rax = 0xFEDC_BA98_7654_3210
    // The kvm-unit-tests case: xchg %al, (mem) with mem = 0x0123456789abcdef.
    XCTAssertEqual(
      execute(.exchange(size: 1, register: 0, highByte: false), memory: 0xEF), [0x10])
    XCTAssertEqual(registers.rax, 0xFEDC_BA98_7654_32EF)
    XCTAssertEqual(
      execute(.exchange(size: 4, register: 0, highByte: false), memory: 0x89AB_CDEF), [0x7654_32EF])
    XCTAssertEqual(registers.rax, 0x89AB_CDEF, "a 32-bit register write clears bits 63:32")
    XCTAssertEqual(registers.rip, 0x1006)
  }

  func testCompareExchangeEqualStoresTheSource() {
    registers.rax = 0x1234
    registers.rdx = 0x5678
    registers.rflags = 0x2
    XCTAssertEqual(
      execute(.compareExchange(size: 2, register: 2, highByte: false), memory: 0x1234), [0x5678])
    XCTAssertEqual(registers.rflags & ArithmeticOperation.statusFlags, 0x44, "ZF, PF")
    XCTAssertEqual(registers.rax, 0x1234)
  }

  func testCompareExchangeDifferentLoadsTheAccumulatorAndWritesMemoryBack() {
    registers.rax = 0xFFFF_FFFF_0000_0001
    registers.rdx = 0x5678
    XCTAssertEqual(
      execute(.compareExchange(size: 4, register: 2, highByte: false), memory: 0x2), [0x2])
    XCTAssertEqual(registers.rax, 0x2, "EAX <- memory, zero-extended")
    XCTAssertEqual(registers.rflags & 0x41, 0x1, "ZF clear; 1 - 2 borrows")
  }

  func testExchangeAddWritesTheSumAndReturnsTheOldValue() {
    registers.rcx = 0xFFFF_FFFF_FFFF_FF01
    XCTAssertEqual(
      execute(.exchangeAdd(size: 1, register: 1, highByte: false), memory: 0xFF), [0x00])
    XCTAssertEqual(registers.rcx, 0xFFFF_FFFF_FFFF_FFFF, "CL <- old memory")
    XCTAssertEqual(registers.rflags & 0x41, 0x41, "0xFF + 1: CF and ZF")
  }
}

/// SMSW m16 and the one-operand ALU forms (INC, DEC, NOT, NEG) on MMIO.
final class MemoryAccessUnaryTests: XCTestCase {
  private func run(_ hex: String, memory: UInt64, rflags: UInt64 = 0x2, cr0: UInt64 = 0)
    throws -> (written: [UInt64], rflags: UInt64)
  {
    let access = try MemoryAccessDecoder.decode(instruction(hex), width: .long64).get()
    var registers = GuestRegisters()
    registers.rflags = rflags
    var written: [UInt64] = []
    MemoryAccessEmulator.execute(
      access, registers: &registers, controlRegister0: cr0, read: { _ in memory },
      write: { _, value in written.append(value) })
    XCTAssertEqual(registers.rip, UInt64(access.length))
    return (written, registers.rflags)
  }

  func testSmswStoresTheLowWordOfCR0() throws {
    // 0F 01 27: SMSW [RDI]; a 16-bit store whatever REX.W says.
    XCTAssertEqual(try run("0f 01 27", memory: 0, cr0: 0x8005_0033).written, [0x0033])
    XCTAssertEqual(
      try MemoryAccessDecoder.decode(instruction("48 0f 01 27"), width: .long64).get().accessSize,
      2)
    XCTAssertEqual(
      MemoryAccessDecoder.decode(instruction("0f 01 17"), width: .long64),
      .failure(.unsupportedOpcode(0x01)), "LGDT is not emulated")
  }

  func testIncAndDecKeepCarry() throws {
    // FE 07: INC byte [RDI] on 0x7F: 0x80, OF, SF, AF; CF kept set.
    let inc = try run("fe 07", memory: 0x7F, rflags: 0x3)
    XCTAssertEqual(inc.written, [0x80])
    XCTAssertEqual(inc.rflags & ArithmeticOperation.statusFlags, 0x891)
    // 48 FF 0F: DEC qword [RDI] on 0: all ones, SF, AF, PF; CF kept clear.
    let dec = try run("48 ff 0f", memory: 0, rflags: 0x2)
    XCTAssertEqual(dec.written, [~0])
    XCTAssertEqual(dec.rflags & ArithmeticOperation.statusFlags, 0x94)
  }

  func testNotAndNeg() throws {
    // F7 17: NOT dword [RDI]: no flags change.
    let not = try run("f7 17", memory: 0x0000_FFFF, rflags: 0x8D7)
    XCTAssertEqual(not.written, [0xFFFF_0000])
    XCTAssertEqual(not.rflags, 0x8D7)
    // F6 1F: NEG byte [RDI] on 1: 0xFF, CF, SF, AF, PF.
    let neg = try run("f6 1f", memory: 1)
    XCTAssertEqual(neg.written, [0xFF])
    XCTAssertEqual(neg.rflags & ArithmeticOperation.statusFlags, 0x95)
    // NEG of 0: CF clear, ZF.
    XCTAssertEqual(try run("f6 1f", memory: 0).rflags & 0x41, 0x40)
    XCTAssertEqual(
      MemoryAccessDecoder.decode(instruction("f7 27"), width: .long64),
      .failure(.unsupportedOpcode(0xF7)), "MUL is not emulated")
  }
}
