import HypervisorCore
import XCTest

final class MemoryAccessEmulatorTests: XCTestCase {
  private var registers = GuestRegisters()

  override func setUp() {
    registers = GuestRegisters()
    registers.rip = 0x1000
  }

  /// Runs `access` against a device that returns `deviceValue` and records every write.
  @discardableResult
  private func run(
    _ instruction: MemoryAccessInstruction, length: UInt8 = 3, deviceValue: UInt64 = 0
  ) -> (reads: [UInt8], writes: [(size: UInt8, value: UInt64)]) {
    var reads: [UInt8] = []
    var writes: [(size: UInt8, value: UInt64)] = []
    MemoryAccessEmulator.execute(
      DecodedMemoryAccess(instruction: instruction, length: length), registers: &registers,
      read: { size in
        reads.append(size)
        return deviceValue
      },
      write: { size, value in writes.append((size, value)) })
    return (reads, writes)
  }

  private func load(
    _ size: UInt8, into register: Int, highByte: Bool = false, _ extension: LoadExtension = .none,
    destinationSize: UInt8? = nil
  ) -> MemoryAccessInstruction {
    .load(
      size: size, destinationRegister: register, highByte: highByte, extension: `extension`,
      destinationSize: destinationSize ?? size)
  }

  // MARK: Loads

  func testByteLoadMergesIntoTheLowByte() {
    registers.rbx = 0x1111_2222_3333_4444
    let result = run(load(1, into: 3), deviceValue: 0xAB)
    XCTAssertEqual(result.reads, [1])
    XCTAssertEqual(registers.rbx, 0x1111_2222_3333_44AB)
  }

  func testHighByteLoadMergesIntoBitsFifteenToEight() {
    registers.rax = 0x1111_2222_3333_4444
    run(load(1, into: 0, highByte: true), deviceValue: 0xAB)
    XCTAssertEqual(registers.rax, 0x1111_2222_3333_AB44)
  }

  func testWordLoadMergesIntoTheLowWord() {
    registers.rcx = 0xFFFF_FFFF_FFFF_FFFF
    run(load(2, into: 1), deviceValue: 0x1234)
    XCTAssertEqual(registers.rcx, 0xFFFF_FFFF_FFFF_1234)
  }

  func testDoublewordLoadZeroExtends() {
    registers.r8 = 0xFFFF_FFFF_FFFF_FFFF
    run(load(4, into: 8), deviceValue: 0x8765_4321)
    XCTAssertEqual(registers.r8, 0x0000_0000_8765_4321)
  }

  func testQuadwordLoadReplaces() {
    registers.r15 = 1
    run(load(8, into: 15), deviceValue: 0xFEDC_BA98_7654_3210)
    XCTAssertEqual(registers.r15, 0xFEDC_BA98_7654_3210)
  }

  func testDeviceValueIsMaskedToTheAccessSize() {
    registers.rdx = 0
    run(load(1, into: 2, .zero, destinationSize: 8), deviceValue: 0xFFFF_FF80)
    XCTAssertEqual(registers.rdx, 0x80)
  }

  func testZeroExtendingLoads() {
    registers.rax = 0xFFFF_FFFF_FFFF_FFFF
    run(load(1, into: 0, .zero, destinationSize: 4), deviceValue: 0x80)
    XCTAssertEqual(registers.rax, 0x80)

    registers.rax = 0xFFFF_FFFF_FFFF_FFFF
    run(load(1, into: 0, .zero, destinationSize: 2), deviceValue: 0x80)
    XCTAssertEqual(registers.rax, 0xFFFF_FFFF_FFFF_0080)
  }

  func testSignExtendingLoads() {
    run(load(1, into: 1, .sign, destinationSize: 4), deviceValue: 0x80)
    XCTAssertEqual(registers.rcx, 0x0000_0000_FFFF_FF80)

    run(load(2, into: 1, .sign, destinationSize: 8), deviceValue: 0x8001)
    XCTAssertEqual(registers.rcx, 0xFFFF_FFFF_FFFF_8001)

    run(load(4, into: 1, .sign, destinationSize: 8), deviceValue: 0x8000_0000)
    XCTAssertEqual(registers.rcx, 0xFFFF_FFFF_8000_0000)

    run(load(4, into: 1, .sign, destinationSize: 8), deviceValue: 0x7FFF_FFFF)
    XCTAssertEqual(registers.rcx, 0x0000_0000_7FFF_FFFF)

    registers.rcx = 0x1111_2222_3333_4444
    run(load(1, into: 1, .sign, destinationSize: 2), deviceValue: 0xF0)
    XCTAssertEqual(registers.rcx, 0x1111_2222_3333_FFF0)
  }

  func testLoadAdvancesRIPAndTouchesNothingElse() {
    registers.rsi = 0x55
    var expected = registers
    run(load(4, into: 0), length: 7, deviceValue: 9)
    expected.rax = 9
    expected.rip = 0x1007
    XCTAssertEqual(registers, expected)
  }

  // MARK: Stores

  func testRegisterStoreWritesTheLowBytes() {
    registers.rdx = 0x1122_3344_5566_7788
    let result = run(.store(size: 2, source: .register(2, highByte: false)))
    XCTAssertEqual(result.writes.map(\.size), [2])
    XCTAssertEqual(result.writes.map(\.value), [0x7788])
    XCTAssertTrue(result.reads.isEmpty)
    XCTAssertEqual(registers.rip, 0x1003)
  }

  func testHighByteStoreWritesBitsFifteenToEight() {
    registers.rbx = 0x1122_3344_5566_7788
    let result = run(.store(size: 1, source: .register(3, highByte: true)))
    XCTAssertEqual(result.writes.map(\.value), [0x77])
  }

  func testImmediateStore() {
    let result = run(.store(size: 8, source: .immediate(0xFFFF_FFFF_80FF_FFFF)), length: 7)
    XCTAssertEqual(result.writes.map(\.size), [8])
    XCTAssertEqual(result.writes.map(\.value), [0xFFFF_FFFF_80FF_FFFF])
    XCTAssertEqual(registers.rip, 0x1007)
  }

  func testStoreDoesNotChangeRegistersOtherThanRIP() {
    registers.rax = 0xAA
    var expected = registers
    run(.store(size: 4, source: .register(0, highByte: false)), length: 2)
    expected.rip = 0x1002
    XCTAssertEqual(registers, expected)
  }

  // MARK: STOS

  func testSingleStoreStringMovesRDIForward() {
    registers.rax = 0x1122_3344_5566_7788
    registers.rdi = 0x2000
    registers.rcx = 5
    let result = run(.storeString(size: 4, repeated: false, addressSize: 8), length: 1)
    XCTAssertEqual(result.writes.map(\.value), [0x5566_7788])
    XCTAssertEqual(registers.rdi, 0x2004)
    XCTAssertEqual(registers.rcx, 5, "RCX only counts with REP")
    XCTAssertEqual(registers.rip, 0x1001)
  }

  func testStoreStringWithDirectionFlagMovesRDIBackward() {
    registers.rflags |= 1 << 10
    registers.rdi = 0x2000
    run(.storeString(size: 8, repeated: false, addressSize: 8), length: 2)
    XCTAssertEqual(registers.rdi, 0x1FF8)
  }

  func testRepeatedStoreStringWritesRCXTimes() {
    registers.rax = 0xAB
    registers.rdi = 0x3000
    registers.rcx = 4
    let result = run(.storeString(size: 1, repeated: true, addressSize: 8), length: 2)
    XCTAssertEqual(result.writes.map(\.value), [0xAB, 0xAB, 0xAB, 0xAB])
    XCTAssertEqual(result.writes.map(\.size), [1, 1, 1, 1])
    XCTAssertEqual(registers.rdi, 0x3004)
    XCTAssertEqual(registers.rcx, 0)
    XCTAssertEqual(registers.rip, 0x1002)
  }

  func testRepeatedStoreStringBackward() {
    registers.rflags |= 1 << 10
    registers.rdi = 0x3000
    registers.rcx = 3
    let result = run(.storeString(size: 2, repeated: true, addressSize: 8), length: 3)
    XCTAssertEqual(result.writes.count, 3)
    XCTAssertEqual(registers.rdi, 0x2FFA)
    XCTAssertEqual(registers.rcx, 0)
  }

  func testRepeatedStoreStringWithZeroCountWritesNothing() {
    registers.rdi = 0x3000
    registers.rcx = 0
    let result = run(.storeString(size: 4, repeated: true, addressSize: 8), length: 2)
    XCTAssertTrue(result.writes.isEmpty)
    XCTAssertEqual(registers.rdi, 0x3000)
    XCTAssertEqual(registers.rip, 0x1002, "RIP still advances past the instruction")
  }

  func testSixteenBitAddressSizeUsesCXAndDIOnly() {
    registers.rdi = 0xAAAA_0000_0000_FFFE
    registers.rcx = 0xBBBB_0000_0001_0002  // CX = 2; the upper bits must not count
    let result = run(.storeString(size: 2, repeated: true, addressSize: 2), length: 2)
    XCTAssertEqual(result.writes.count, 2)
    XCTAssertEqual(registers.rdi, 0xAAAA_0000_0000_0002, "DI wraps within 16 bits")
    XCTAssertEqual(registers.rcx, 0xBBBB_0000_0001_0000)
  }

  func testThirtyTwoBitAddressSizeZeroExtendsEDIAndECX() {
    registers.rdi = 0xAAAA_BBBB_0000_1000
    registers.rcx = 0xCCCC_DDDD_0000_0001
    let result = run(.storeString(size: 4, repeated: true, addressSize: 4), length: 3)
    XCTAssertEqual(result.writes.count, 1)
    XCTAssertEqual(registers.rdi, 0x1004)
    XCTAssertEqual(registers.rcx, 0)
  }

  // MARK: Decode and execute together

  func testDecodedLoadIntoAH() throws {
    let bytes = instruction("8a 23")  // MOV AH, [RBX]
    let access = try MemoryAccessDecoder.decode(bytes, width: .long64).get()
    registers.rax = 0x1234
    MemoryAccessEmulator.execute(
      access, registers: &registers, read: { _ in 0x99 }, write: { _, _ in XCTFail("no write") })
    XCTAssertEqual(registers.rax, 0x9934)
    XCTAssertEqual(registers.rip, 0x1002)
  }

  // MARK: Bounded string repetitions

  func testRepStosBeyondTheLimitLeavesAnInterruptedREP() {
    registers.rcx = ~0
    registers.rdi = 0x2000
    var writes = 0
    let done = MemoryAccessEmulator.execute(
      DecodedMemoryAccess(
        instruction: .storeString(size: 1, repeated: true, addressSize: 8), length: 2),
      registers: &registers, iterations: 10, read: { _ in 0 }, write: { _, _ in writes += 1 })
    XCTAssertEqual(done, 10)
    XCTAssertEqual(writes, 10)
    XCTAssertEqual(registers.rcx, ~0 - 10)
    XCTAssertEqual(registers.rdi, 0x200A)
    XCTAssertEqual(registers.rip, 0x1000, "RIP stays on the unfinished REP")
  }

  func testDefaultLimitIsTheChunkSize() {
    registers.rcx = 0xFFFF_FFFF
    registers.rdi = 0x10
    var writes: UInt64 = 0
    MemoryAccessEmulator.execute(
      DecodedMemoryAccess(
        instruction: .storeString(size: 4, repeated: true, addressSize: 4), length: 2),
      registers: &registers, read: { _ in 0 }, write: { _, _ in writes += 1 })
    XCTAssertEqual(writes, MemoryAccessEmulator.maximumIterationsPerExit)
    XCTAssertEqual(registers.rcx, 0xFFFF_FFFF - writes)
    XCTAssertEqual(registers.rdi, 0x10 + 4 * writes)
  }

  func testSixteenBitIndexWrapsDownwardAndKeepsUpperBits() {
    registers.rflags |= 1 << 10
    registers.rcx = 0xAAAA_0000_0000_0003
    registers.rdi = 0x5555_0000_0000_0001
    MemoryAccessEmulator.execute(
      DecodedMemoryAccess(
        instruction: .storeString(size: 1, repeated: true, addressSize: 2), length: 2),
      registers: &registers, read: { _ in 0 }, write: { _, _ in })
    XCTAssertEqual(registers.rdi, 0x5555_0000_0000_FFFE, "DI wraps below zero")
    XCTAssertEqual(registers.rcx, 0xAAAA_0000_0000_0000)
    XCTAssertEqual(registers.rip, 0x1002)
  }
}
