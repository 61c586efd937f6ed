import HypervisorCore
import XCTest

/// Encodings and lengths are cross-checked against GNU objdump's disassembly.
final class InstructionLengthTests: XCTestCase {
  private func assertLength(
    _ hex: String, _ width: GuestMode.Width, _ expected: UInt8?,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(
      InstructionLength.decode(instruction(hex), width: width), expected, "\(hex) in \(width)",
      file: file, line: line)
  }

  // MARK: Instructions that exit to the hypervisor

  func testIntercepts() {
    assertLength("0f a2", .long64, 2)  // CPUID
    assertLength("0f 01 d9", .long64, 3)  // VMMCALL
    assertLength("0f 32", .long64, 2)  // RDMSR
    assertLength("0f 30", .protected32, 2)  // WRMSR
    assertLength("f4", .long64, 1)  // HLT
    assertLength("0f 01 d1", .long64, 3)  // XSETBV
    assertLength("0f 08", .long64, 2)  // INVD
    assertLength("0f 09", .real, 2)  // WBINVD
    assertLength("0f 05", .long64, 2)  // SYSCALL
    assertLength("0f 0b", .long64, 2)  // UD2
  }

  func testPortIO() {
    assertLength("e4 71", .long64, 2)
    assertLength("e5 40", .real, 2)
    assertLength("e6 80", .long64, 2)
    assertLength("e7 40", .protected32, 2)
    assertLength("ec", .long64, 1)
    assertLength("ef", .long64, 1)
    assertLength("66 ed", .long64, 2)
    assertLength("f3 6c", .long64, 2)  // REP INSB
    assertLength("f3 66 6f", .long64, 3)  // REP OUTSW
  }

  func testMoveToAndFromControlRegistersIgnoresMod() {
    assertLength("0f 20 c0", .long64, 3)  // MOV RAX, CR0
    assertLength("0f 22 d8", .long64, 3)  // MOV CR3, RAX
    assertLength("44 0f 20 c0", .long64, 4)  // MOV RAX, CR8
    // Mod 00 with r/m 101 would mean disp32 anywhere else; here it is still register form.
    assertLength("0f 22 05", .protected32, 3)
  }

  func testPrefixedInterceptsCountTheirPrefixes() {
    assertLength("66 0f a2", .long64, 3)
    assertLength("f3 48 ab", .long64, 3)
    assertLength("2e 3e 26 36 64 65 f0 8b 00", .long64, 9)
  }

  // MARK: ModRM, SIB and displacement

  func testThirtyTwoAndSixtyFourBitAddressing() {
    assertLength("48 8b 05 44 33 22 11", .long64, 7)  // RIP-relative
    assertLength("8b 05 44 33 22 11", .protected32, 6)  // absolute disp32
    assertLength("8b 04 24", .long64, 3)  // [rsp]: SIB, no displacement
    assertLength("8b 44 24 08", .long64, 4)  // [rsp+8]
    assertLength("8b 04 25 44 33 22 11", .long64, 7)  // SIB with no base: disp32
    assertLength("8b 84 24 44 33 22 11", .long64, 7)  // [rsp+disp32]
    assertLength("8b 45 00", .long64, 3)  // [rbp+0] needs disp8
    assertLength("c7 80 00 10 00 00 78 56 34 12", .long64, 10)
    assertLength("64 48 8b 04 25 28 00 00 00", .long64, 9)  // MOV RAX, FS:[0x28]
  }

  func testSixteenBitAddressing() {
    assertLength("8b 07", .real, 2)  // [bx]
    assertLength("8b 06 34 12", .real, 4)  // [disp16]
    assertLength("8b 46 fc", .protected16, 3)  // [bp-4]
    assertLength("8b 86 34 12", .real, 4)  // [bp+disp16]
    assertLength("8b 00", .real, 2)  // [bx+si]
    assertLength("f6 46 02 80", .real, 4)  // TEST byte [bp+2], 0x80
  }

  func testAddressSizePrefixTogglesTheAddressingForm() {
    assertLength("67 8b 07", .real, 3)  // [edi]
    assertLength("67 8b 05 78 56 34 12", .real, 7)  // [disp32]
    assertLength("67 8b 06 34 12", .protected32, 5)  // 16-bit [disp16]
  }

  // MARK: Immediates

  func testMoveImmediateFollowsOperandSize() {
    assertLength("48 b8 88 77 66 55 44 33 22 11", .long64, 10)  // MOV RAX, imm64
    assertLength("b8 44 33 22 11", .long64, 5)
    assertLength("66 b8 22 11", .long64, 4)
    assertLength("41 b8 44 33 22 11", .long64, 6)  // REX.B alone keeps imm32
    assertLength("b8 34 12", .real, 3)
    assertLength("66 b8 44 33 22 11", .real, 6)
    assertLength("66 48 b8 88 77 66 55 44 33 22 11", .long64, 11)  // REX.W beats 66
  }

  func testREXCountsOnlyDirectlyBeforeTheOpcode() {
    // The REX.W is followed by 66, so it is ignored and the immediate is 16 bits.
    assertLength("48 66 b8 34 12", .long64, 5)
    // Outside 64-bit mode 48 is DEC EAX, an instruction of its own.
    assertLength("48 b8 44 33 22 11", .protected32, 1)
    assertLength("40", .protected32, 1)
  }

  func testGroupThreeTakesAnImmediateOnlyForTest() {
    assertLength("f6 c0 01", .long64, 3)  // TEST AL, 1
    assertLength("f6 d0", .long64, 2)  // NOT AL
    assertLength("f7 c0 44 33 22 11", .long64, 6)  // TEST EAX, imm32
    assertLength("f7 d8", .long64, 2)  // NEG EAX
    assertLength("66 f7 c0 34 12", .long64, 5)
    assertLength("48 f7 c1 44 33 22 11", .long64, 7)  // TEST RCX, imm32
    assertLength("f7 05 11 11 11 11 22 22 22 22", .long64, 10)
    assertLength("f6 45 08 01", .long64, 4)
  }

  func testOtherImmediates() {
    assertLength("c8 10 00 00", .long64, 4)  // ENTER
    assertLength("c2 08 00", .long64, 3)  // RET imm16
    assertLength("6a 01", .long64, 2)
    assertLength("68 44 33 22 11", .long64, 5)
    assertLength("83 c0 01", .long64, 3)
    assertLength("81 c1 44 33 22 11", .long64, 6)
    assertLength("66 81 c1 34 12", .long64, 5)
    assertLength("69 c0 00 01 00 00", .long64, 6)
    assertLength("6b c0 10", .long64, 3)
    assertLength("c0 e0 04", .long64, 3)
    assertLength("cd 80", .long64, 2)
    assertLength("c6 05 44 33 22 11 7f", .long64, 7)
    assertLength("66 c7 40 04 34 12", .protected32, 6)
  }

  func testFarPointersFollowOperandSize() {
    assertLength("ea 44 33 22 11 08 00", .protected32, 7)
    assertLength("ea 34 12 00 f0", .real, 5)
    assertLength("9a 34 12 00 f0", .real, 5)
    assertLength("66 9a 44 33 22 11 08 00", .real, 8)
    assertLength("ea 44 33 22 11 08 00", .long64, nil)  // invalid in 64-bit mode
  }

  func testMemoryOffsetsFollowAddressSize() {
    assertLength("a1 88 77 66 55 44 33 22 11", .long64, 9)
    assertLength("67 a1 44 33 22 11", .long64, 6)
    assertLength("48 a3 88 77 66 55 44 33 22 11", .long64, 10)
    assertLength("a1 34 12", .real, 3)
    assertLength("a1 44 33 22 11", .protected32, 5)
    assertLength("66 a1 44 33 22 11", .protected32, 6)  // 66 changes the data, not the offset
  }

  func testRelativeBranches() {
    assertLength("e8 44 33 22 11", .long64, 5)
    assertLength("66 e8 44 33 22 11", .long64, 6)  // 66 is ignored in 64-bit mode
    assertLength("e8 34 12", .real, 3)
    assertLength("e9 00 00 00 00", .protected32, 5)
    assertLength("0f 84 34 12", .real, 4)
    assertLength("0f 84 44 33 22 11", .long64, 6)
    assertLength("eb fe", .real, 2)
  }

  // MARK: Two- and three-byte maps

  func testTwoAndThreeByteMaps() {
    assertLength("0f 38 00 c1", .long64, 4)  // PSHUFB
    assertLength("66 0f 3a 0f c1 08", .long64, 6)  // PALIGNR
    assertLength("0f ba e0 05", .long64, 4)  // BT EAX, 5
    assertLength("0f 1f 44 00 00", .long64, 5)  // NOP
    assertLength("66 0f 1f 84 00 00 00 00 00", .long64, 9)
    assertLength("f3 0f 1e fa", .long64, 4)  // ENDBR64
    assertLength("f0 0f b1 0a", .long64, 4)  // LOCK CMPXCHG
    assertLength("0f c2 c1 01", .long64, 4)  // CMPPS
    assertLength("0f c6 c1 1b", .long64, 4)  // SHUFPS
    assertLength("0f 70 c1 1b", .long64, 4)  // PSHUFW
    assertLength("0f b6 47 03", .long64, 4)  // MOVZX
    assertLength("48 0f bf 0e", .long64, 4)  // MOVSX
    assertLength("66 0f 78 c0 04 08", .long64, 6)  // AMD EXTRQ imm8, imm8
    assertLength("0f 78 c8", .long64, 3)  // VMREAD
  }

  func testX87AndOtherModRMOpcodes() {
    assertLength("d9 ee", .long64, 2)  // FLDZ
    assertLength("dd 04 24", .long64, 3)  // FLD qword [rsp]
    assertLength("8f c0", .long64, 2)  // POP RAX
    assertLength("48 63 43 08", .long64, 4)  // MOVSXD
    assertLength("89 50 04", .long64, 3)
    assertLength("88 65 f0", .long64, 3)
  }

  // MARK: Rejections

  func testUndefinedOrUnsupportedEncodingsHaveNoLength() {
    assertLength("0f 04", .long64, nil)
    assertLength("06", .long64, nil)  // PUSH ES, invalid in 64-bit mode
    assertLength("06", .real, 1)
    assertLength("c5 f8 77", .long64, nil)  // VZEROUPPER (VEX)
    assertLength("c4 e2 79 00 c1", .protected32, nil)  // VEX in 32-bit mode
    assertLength("c4 06", .protected32, 2)  // LES EAX, [ESI]
    assertLength("62 f1 7c 48 10 00", .long64, nil)  // EVEX
    assertLength("8f e8 78 c2 c1 00", .long64, nil)  // XOP
  }

  func testFifteenByteLimit() {
    let fourteenPrefixes = String(repeating: "66 ", count: 14)
    assertLength(fourteenPrefixes + "90", .long64, 15)
    assertLength(fourteenPrefixes + "66 90", .long64, nil)
    // Fifteen bytes of a sixteen-byte instruction: over the limit, not merely truncated.
    assertLength("66 66 66 66 66 66 48 b8 88 77 66 55 44 33 22", .long64, nil)
    assertLength("66 66 66 66 66 48 b8 88 77 66 55 44 33 22 11", .long64, 15)
  }

  func testTruncatedBytesHaveNoLength() {
    assertLength("", .long64, nil)
    assertLength("0f", .long64, nil)
    assertLength("66", .long64, nil)
    assertLength("e4", .long64, nil)
    assertLength("48 8b 05 44 33", .long64, nil)
    assertLength("8b 04", .long64, nil)  // SIB missing
    assertLength("c7 80 00 10 00 00 78 56 34", .long64, nil)  // immediate short by one
    assertLength("0f 38 00", .long64, nil)
  }
}
