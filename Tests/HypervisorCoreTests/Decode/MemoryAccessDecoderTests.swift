import HypervisorCore
import XCTest

final class MemoryAccessDecoderTests: XCTestCase {
  private func decode(
    _ hex: String, _ width: GuestMode.Width = .long64
  ) -> Result<DecodedMemoryAccess, MemoryAccessDecodeError> {
    // The operand's address form has its own tests (testOperand...): compared without it.
    MemoryAccessDecoder.decode(instruction(hex), width: width).map {
      DecodedMemoryAccess(instruction: $0.instruction, length: $0.length)
    }
  }

  private func operand(_ hex: String, _ width: GuestMode.Width = .long64) -> MemoryOperand? {
    try? MemoryAccessDecoder.decode(instruction(hex), width: width).get().operand
  }

  // MARK: Operand addresses

  func testOperandSIBWithDisplacementAndREXX() {
    // 42 8B 44 8B 10: MOV EAX, [RBX + R9*4 + 0x10].
    XCTAssertEqual(
      operand("42 8b 44 8b 10"),
      MemoryOperand(segment: .ds, base: 3, index: 9, scale: 4, displacement: 0x10, addressSize: 8))
  }

  func testOperandRIPRelativeAndNegativeDisplacement() {
    XCTAssertEqual(
      operand("8b 05 f0 ff ff ff"),
      MemoryOperand(
        segment: .ds, displacement: 0xFFFF_FFFF_FFFF_FFF0, isRIPRelative: true, addressSize: 8))
    // In 32-bit code the same encoding is an absolute disp32.
    XCTAssertEqual(
      operand("8b 05 00 00 d0 fe", .protected32),
      MemoryOperand(segment: .ds, displacement: 0xFFFF_FFFF_FED0_0000, addressSize: 4))
  }

  func testOperandSixteenBitFormsAndSegments() {
    // 8B 42 04: MOV AX, [BP+SI+4] uses SS; 26 8B 07: MOV AX, ES:[BX].
    XCTAssertEqual(
      operand("8b 42 04", .real),
      MemoryOperand(segment: .ss, base: 5, index: 6, displacement: 4, addressSize: 2))
    XCTAssertEqual(
      operand("26 8b 07", .real), MemoryOperand(segment: .es, base: 3, addressSize: 2))
    XCTAssertEqual(
      operand("8b 06 34 12", .real),
      MemoryOperand(segment: .ds, displacement: 0x1234, addressSize: 2))
  }

  func testOperandOfStringAndOffsetForms() {
    // STOS is always ES:(E/R)DI, even with a segment prefix; moffs honours the prefix.
    XCTAssertEqual(operand("64 f3 aa"), MemoryOperand(segment: .es, base: 7, addressSize: 8))
    XCTAssertEqual(operand("67 aa"), MemoryOperand(segment: .es, base: 7, addressSize: 4))
    XCTAssertEqual(
      operand("65 a1 00 10 00 00 00 00 00 00"),
      MemoryOperand(segment: .gs, displacement: 0x1000, addressSize: 8))
  }

  private func load(
    _ size: UInt8, into register: Int, highByte: Bool = false, _ extension: LoadExtension = .none,
    destinationSize: UInt8? = nil, length: UInt8
  ) -> Result<DecodedMemoryAccess, MemoryAccessDecodeError> {
    .success(
      DecodedMemoryAccess(
        instruction: .load(
          size: size, destinationRegister: register, highByte: highByte, extension: `extension`,
          destinationSize: destinationSize ?? size),
        length: length))
  }

  private func store(
    _ size: UInt8, _ source: StoreSource, length: UInt8
  ) -> Result<DecodedMemoryAccess, MemoryAccessDecodeError> {
    .success(DecodedMemoryAccess(instruction: .store(size: size, source: source), length: length))
  }

  // MARK: MOV loads

  func testMoveLoadSizes() {
    XCTAssertEqual(decode("8b 03"), load(4, into: 0, length: 2))  // MOV EAX, [RBX]
    XCTAssertEqual(decode("48 8b 05 44 33 22 11"), load(8, into: 0, length: 7))
    XCTAssertEqual(decode("66 8b 4b 10"), load(2, into: 1, length: 4))  // MOV CX, [RBX+16]
    XCTAssertEqual(decode("8a 13"), load(1, into: 2, length: 2))  // MOV DL, [RBX]
    XCTAssertEqual(decode("8b 07", .real), load(2, into: 0, length: 2))  // MOV AX, [BX]
    XCTAssertEqual(decode("66 8b 07", .real), load(4, into: 0, length: 3))
  }

  func testLoadIntoHighByteRegisters() {
    XCTAssertEqual(decode("8a 23"), load(1, into: 0, highByte: true, length: 2))  // AH
    XCTAssertEqual(decode("8a 2b"), load(1, into: 1, highByte: true, length: 2))  // CH
    XCTAssertEqual(decode("8a 33"), load(1, into: 2, highByte: true, length: 2))  // DH
    XCTAssertEqual(decode("8a 3b"), load(1, into: 3, highByte: true, length: 2))  // BH
    // Any REX, even 40, turns 4-7 into SPL, BPL, SIL, DIL.
    XCTAssertEqual(decode("40 8a 33"), load(1, into: 6, length: 3))  // SIL
  }

  func testREXExtendsTheRegisterAndTheBase() {
    XCTAssertEqual(decode("44 8b 03"), load(4, into: 8, length: 3))  // MOV R8D, [RBX]
    XCTAssertEqual(decode("4c 8b 7d 08"), load(8, into: 15, length: 4))  // MOV R15, [RBP+8]
    XCTAssertEqual(decode("41 8b 04 24"), load(4, into: 0, length: 4))  // MOV EAX, [R12]
    XCTAssertEqual(decode("45 8a 48 01"), load(1, into: 9, length: 4))  // MOV R9B, [R8+1]
  }

  func testMoveFromMemoryOffset() {
    XCTAssertEqual(decode("a1 88 77 66 55 44 33 22 11"), load(4, into: 0, length: 9))
    XCTAssertEqual(decode("48 a1 88 77 66 55 44 33 22 11"), load(8, into: 0, length: 10))
    XCTAssertEqual(decode("67 a0 44 33 22 11"), load(1, into: 0, length: 6))
    XCTAssertEqual(decode("a1 44 33 22 11", .protected32), load(4, into: 0, length: 5))
    XCTAssertEqual(decode("a0 34 12", .real), load(1, into: 0, length: 3))
  }

  // MARK: Extending loads

  func testZeroExtendingLoads() {
    XCTAssertEqual(decode("0f b6 03"), load(1, into: 0, .zero, destinationSize: 4, length: 3))
    XCTAssertEqual(decode("0f b7 03"), load(2, into: 0, .zero, destinationSize: 4, length: 3))
    XCTAssertEqual(
      decode("48 0f b6 47 03"), load(1, into: 0, .zero, destinationSize: 8, length: 5))
    XCTAssertEqual(decode("66 0f b6 03"), load(1, into: 0, .zero, destinationSize: 2, length: 4))
    XCTAssertEqual(
      decode("44 0f b7 5b 02"), load(2, into: 11, .zero, destinationSize: 4, length: 5))
  }

  func testSignExtendingLoads() {
    XCTAssertEqual(decode("0f be 0e"), load(1, into: 1, .sign, destinationSize: 4, length: 3))
    XCTAssertEqual(decode("48 0f bf 0e"), load(2, into: 1, .sign, destinationSize: 8, length: 4))
    XCTAssertEqual(decode("48 63 43 08"), load(4, into: 0, .sign, destinationSize: 8, length: 4))
    XCTAssertEqual(decode("4c 63 03"), load(4, into: 8, .sign, destinationSize: 8, length: 3))
  }

  func testMOVSXDWithoutREXWIsAPlainMove() {
    XCTAssertEqual(decode("63 03"), load(4, into: 0, length: 2))
    XCTAssertEqual(decode("63 03", .protected32), .failure(.unsupportedOpcode(0x63)))  // ARPL
  }

  // MARK: Stores

  func testMoveStores() {
    XCTAssertEqual(decode("89 50 04"), store(4, .register(2, highByte: false), length: 3))
    XCTAssertEqual(decode("48 89 08"), store(8, .register(1, highByte: false), length: 3))
    XCTAssertEqual(decode("66 89 08"), store(2, .register(1, highByte: false), length: 3))
    XCTAssertEqual(decode("4c 89 08"), store(8, .register(9, highByte: false), length: 3))
    XCTAssertEqual(decode("88 65 f0"), store(1, .register(0, highByte: true), length: 3))  // AH
    XCTAssertEqual(decode("88 3e"), store(1, .register(3, highByte: true), length: 2))  // BH
    XCTAssertEqual(decode("40 88 3e"), store(1, .register(7, highByte: false), length: 3))  // DIL
    XCTAssertEqual(decode("88 07", .real), store(1, .register(0, highByte: false), length: 2))
  }

  func testMoveToMemoryOffset() {
    XCTAssertEqual(
      decode("a3 88 77 66 55 44 33 22 11"), store(4, .register(0, highByte: false), length: 9))
    XCTAssertEqual(
      decode("a2 44 33 22 11", .protected32), store(1, .register(0, highByte: false), length: 5))
    XCTAssertEqual(
      decode("66 a3 34 12", .protected16), store(4, .register(0, highByte: false), length: 4))
  }

  func testImmediateStores() {
    XCTAssertEqual(
      decode("c7 80 00 10 00 00 78 56 34 12"), store(4, .immediate(0x1234_5678), length: 10))
    XCTAssertEqual(decode("c6 05 44 33 22 11 7f"), store(1, .immediate(0x7F), length: 7))
    XCTAssertEqual(
      decode("66 c7 40 04 34 12", .protected32), store(2, .immediate(0x1234), length: 6))
    XCTAssertEqual(decode("c7 07 34 12", .real), store(2, .immediate(0x1234), length: 4))
    // REX.W: imm32 sign-extended to 64 bits.
    XCTAssertEqual(
      decode("48 c7 00 ff ff ff 80"), store(8, .immediate(0xFFFF_FFFF_80FF_FFFF), length: 7))
    XCTAssertEqual(decode("48 c7 00 01 00 00 00"), store(8, .immediate(1), length: 7))
  }

  func testStoreStrings() {
    XCTAssertEqual(
      decode("f3 48 ab"),
      .success(
        DecodedMemoryAccess(
          instruction: .storeString(size: 8, repeated: true, addressSize: 8), length: 3)))
    XCTAssertEqual(
      decode("aa"),
      .success(
        DecodedMemoryAccess(
          instruction: .storeString(size: 1, repeated: false, addressSize: 8), length: 1)))
    XCTAssertEqual(
      decode("f3 66 ab", .protected32),
      .success(
        DecodedMemoryAccess(
          instruction: .storeString(size: 2, repeated: true, addressSize: 4), length: 3)))
    XCTAssertEqual(
      decode("67 f3 ab"),
      .success(
        DecodedMemoryAccess(
          instruction: .storeString(size: 4, repeated: true, addressSize: 4), length: 3)))
    XCTAssertEqual(
      decode("f3 ab", .real),
      .success(
        DecodedMemoryAccess(
          instruction: .storeString(size: 2, repeated: true, addressSize: 2), length: 2)))
  }

  // MARK: Rejections

  func testRegisterOperandsAreNotMemory() {
    XCTAssertEqual(decode("8b c3"), .failure(.registerOperandNotMemory))
    XCTAssertEqual(decode("89 d8"), .failure(.registerOperandNotMemory))
    XCTAssertEqual(decode("0f b6 c3"), .failure(.registerOperandNotMemory))
    XCTAssertEqual(decode("c7 c0 01 00 00 00"), .failure(.registerOperandNotMemory))
  }

  func testUnsupportedOpcodes() {
    XCTAssertEqual(decode("d1 23"), .failure(.unsupportedOpcode(0xD1)))  // SHL
    XCTAssertEqual(decode("c7 48 04 01 00 00 00"), .failure(.unsupportedOpcode(0xC7)))  // /1
    XCTAssertEqual(decode("0f a2"), .failure(.unsupportedOpcode(0xA2)))
    XCTAssertEqual(decode("0f 12 07"), .failure(.unsupportedOpcode(0x12)))  // MOVLPS
    XCTAssertEqual(decode("0f ba 1f 01"), .failure(.unsupportedOpcode(0xBA)))  // group 8 /3
  }

  func testTruncatedAndTooLong() {
    XCTAssertEqual(decode(""), .failure(.truncated))
    XCTAssertEqual(decode("48 8b 05 44 33"), .failure(.truncated))
    XCTAssertEqual(decode("c7 80 00 10 00 00 78 56 34"), .failure(.truncated))
    XCTAssertEqual(decode("a1 88 77 66"), .failure(.truncated))
    XCTAssertEqual(decode(String(repeating: "66 ", count: 15)), .failure(.tooLong))
    XCTAssertEqual(
      decode("66 66 66 66 66 66 66 66 66 66 c7 80 00 10 00"), .failure(.tooLong))
  }

  func testLengthsAgreeWithTheLengthDecoder() {
    let encodings = [
      "8b 03", "48 8b 05 44 33 22 11", "8a 23", "45 8a 48 01", "a1 88 77 66 55 44 33 22 11",
      "48 0f bf 0e", "48 63 43 08", "c7 80 00 10 00 00 78 56 34 12", "f3 48 ab",
      "64 89 04 25 10 00 00 00",
    ]
    for hex in encodings {
      let bytes = instruction(hex)
      guard case .success(let access) = MemoryAccessDecoder.decode(bytes, width: .long64) else {
        XCTFail("\(hex) did not decode")
        continue
      }
      XCTAssertEqual(access.length, InstructionLength.decode(bytes, width: .long64), hex)
      XCTAssertEqual(Int(access.length), bytes.count, hex)
    }
  }
}
