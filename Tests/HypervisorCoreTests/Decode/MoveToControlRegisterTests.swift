import HypervisorCore
import XCTest

/// MOV to CR, LMSW and CLTS read from their bytes (SDM 2B MOV CR, 2A LMSW, CLTS), as SVM
/// without decode assists needs.
final class MoveToControlRegisterTests: XCTestCase {
  private func decode(_ bytes: [UInt8], _ width: GuestMode.Width = .long64)
    -> MoveToControlRegister?
  {
    MoveToControlRegister.decode(InstructionBytes(bytes), width: width)
  }

  func testPlainMoveToCR4() {
    // mov cr4, rax (0F 22 E0)
    XCTAssertEqual(
      decode([0x0F, 0x22, 0xE0]),
      MoveToControlRegister(controlRegister: 4, generalRegister: 0, length: 3))
    // mov cr0, ebx in 32-bit code (0F 22 C3)
    XCTAssertEqual(
      decode([0x0F, 0x22, 0xC3], .protected32),
      MoveToControlRegister(controlRegister: 0, generalRegister: 3, length: 3))
  }

  func testREXExtendsTheSourceAndTheControlRegister() {
    // mov cr4, r9 (41 0F 22 E1)
    XCTAssertEqual(
      decode([0x41, 0x0F, 0x22, 0xE1]),
      MoveToControlRegister(controlRegister: 4, generalRegister: 9, length: 4))
    // mov cr8, rax (44 0F 22 C0)
    XCTAssertEqual(decode([0x44, 0x0F, 0x22, 0xC0])?.controlRegister, 8)
    // 0x41 is INC ECX outside 64-bit mode, not a REX prefix.
    XCTAssertNil(decode([0x41, 0x0F, 0x22, 0xE1], .protected32))
  }

  func testLegacyPrefixAfterREXCancelsIt() {
    // 41 66 0F 22 E1: REX is not last before the opcode, so r/m = 1 (RCX).
    XCTAssertEqual(decode([0x41, 0x66, 0x0F, 0x22, 0xE1])?.generalRegister, 1)
  }

  func testLockFormIsCR8() {
    XCTAssertEqual(decode([0xF0, 0x0F, 0x22, 0xC0], .protected32)?.controlRegister, 8)
  }

  func testLMSWRegisterFormAndCLTS() {
    // lmsw ax (0F 01 F0)
    XCTAssertEqual(
      decode([0x0F, 0x01, 0xF0], .real),
      MoveToControlRegister(
        form: .loadMachineStatusWord, controlRegister: 0, generalRegister: 0, length: 3))
    XCTAssertEqual(
      decode([0x0F, 0x06]),
      MoveToControlRegister(
        form: .clearTaskSwitched, controlRegister: 0, generalRegister: 0, length: 2))
  }

  func testOtherInstructionsAreNotDecoded() {
    XCTAssertNil(decode([0x0F, 0x20, 0xE0]), "MOV from CR4")
    XCTAssertNil(decode([0x0F, 0x01, 0x30]), "LMSW from memory")
    XCTAssertNil(decode([0x0F, 0xA2]), "CPUID")
    XCTAssertNil(decode([0x0F]), "truncated")
  }
}
