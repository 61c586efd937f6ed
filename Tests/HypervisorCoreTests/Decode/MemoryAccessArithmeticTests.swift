import HypervisorCore
import XCTest

/// The ALU, TEST forms on MMIO: decoding and the read-modify-write with its flags.
final class MemoryAccessArithmeticTests: XCTestCase {
  private func decode(_ hex: String) -> DecodedMemoryAccess? {
    try? MemoryAccessDecoder.decode(instruction(hex), width: .long64).get()
  }

  func testDecodesTheALUForms() {
    // or %eax, 0x1000(%r12): 41 09 84 24 00 10 00 00 (emulator.c)
    let or = decode("41 09 84 24 00 10 00 00")
    XCTAssertEqual(
      or?.instruction,
      .arithmetic(
        operation: .or, size: 4, source: .register(0, highByte: false),
        registerDestination: false))
    XCTAssertEqual(or?.length, 8)
    XCTAssertEqual(or?.instruction.isStore, true)
    // add (%rax), %cl: 02 08 -> register destination, a read
    XCTAssertEqual(
      decode("02 08")?.instruction,
      .arithmetic(
        operation: .add, size: 1, source: .register(1, highByte: false),
        registerDestination: true))
    XCTAssertEqual(decode("02 08")?.instruction.isStore, false)
    // cmpq $-1, (%rbx): 48 83 3b ff
    XCTAssertEqual(
      decode("48 83 3b ff")?.instruction,
      .arithmetic(
        operation: .cmp, size: 8, source: .immediate(~0), registerDestination: false))
    // testb $0x80, (%rdx): f6 02 80
    XCTAssertEqual(
      decode("f6 02 80")?.instruction,
      .arithmetic(
        operation: .test, size: 1, source: .immediate(0x80), registerDestination: false))
    // andw $0x1234, (%rcx): 66 81 21 34 12
    XCTAssertEqual(
      decode("66 81 21 34 12")?.instruction,
      .arithmetic(
        operation: .and, size: 2, source: .immediate(0x1234), registerDestination: false))
    XCTAssertEqual(decode("66 81 21 34 12")?.length, 5)
    XCTAssertNil(decode("09 c0"), "register operand: not MMIO")
    XCTAssertNil(decode("f6 22"), "F6 /4 (MUL) is not covered")
  }

  func testReadModifyWriteSetsFlagsAndWritesBack() {
    var registers = GuestRegisters()
    registers.rax = 0x8000_0000
    registers.rflags = 0x2 | 0x41  // ZF, CF set before
    var memory: UInt64 = 0x1
    var writes = 0
    MemoryAccessEmulator.execute(
      decode("41 09 84 24 00 10 00 00")!, registers: &registers,
      read: { _ in memory },
      write: { _, value in
        memory = value
        writes += 1
      })
    XCTAssertEqual(memory, 0x8000_0001)
    XCTAssertEqual(writes, 1)
    XCTAssertEqual(registers.rflags, 0x2 | 0x80, "SF only")
    XCTAssertEqual(registers.rip, 8)
  }

  func testCompareAndTestOnlySetFlagsAndRegisterDestinationsMerge() {
    var registers = GuestRegisters()
    registers.rflags = 0x2
    var writes = 0
    MemoryAccessEmulator.execute(
      decode("48 83 3b ff")!, registers: &registers, read: { _ in ~0 },
      write: { _, _ in writes += 1 })
    XCTAssertEqual(writes, 0)
    XCTAssertEqual(registers.rflags, 0x2 | 0x44, "equal: ZF, PF")
    registers.rcx = 0xAAAA_AAAA_AAAA_AAFF
    MemoryAccessEmulator.execute(
      decode("02 08")!, registers: &registers, read: { _ in 0x01 }, write: { _, _ in writes += 1 })
    XCTAssertEqual(registers.rcx, 0xAAAA_AAAA_AAAA_AA00, "CL only")
    XCTAssertEqual(registers.rflags & 0x8D5, 0x55, "CF, PF, AF, ZF")
    XCTAssertEqual(writes, 0)
  }
}
