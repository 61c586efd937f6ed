import HypervisorCore
import XCTest

/// BT/BTS/BTR/BTC, BSF/BSR, IMUL and SHLD/SHRD on MMIO: decoding (encodings from GNU as)
/// and results with flags computed by hand from the SDM Vol 2 pages.
final class MemoryAccessBitTests: XCTestCase {
  private let cf: UInt64 = 1
  private let pf: UInt64 = 1 << 2
  private let zf: UInt64 = 1 << 6
  private let sf: UInt64 = 1 << 7
  private let of: UInt64 = 1 << 11

  private func decode(_ hex: String) -> DecodedMemoryAccess? {
    try? MemoryAccessDecoder.decode(instruction(hex), width: .long64).get()
  }

  /// Runs `hex` against a one-value memory; returns the registers and the memory after.
  private func run(
    _ hex: String, memory start: UInt64, registers setup: (inout GuestRegisters) -> Void
  ) -> (registers: GuestRegisters, memory: UInt64, writes: Int) {
    var registers = GuestRegisters()
    registers.rflags = 0x2
    setup(&registers)
    var memory = start
    var writes = 0
    guard let access = decode(hex) else {
      XCTFail("\(hex) does not decode")
      return (registers, memory, 0)
    }
    MemoryAccessEmulator.execute(
      access, registers: &registers, read: { _ in memory },
      write: { _, value in
        memory = value
        writes += 1
      })
    XCTAssertEqual(registers.rip, UInt64(access.length), "\(hex) completes")
    return (registers, memory, writes)
  }

  func testDecodesTheBitForms() {
    XCTAssertEqual(
      decode("0f ba 3b 20")?.instruction,
      .bitTest(operation: .complement, size: 4, offset: .immediate(32)))
    XCTAssertEqual(decode("0f ba 3b 20")?.length, 4)
    XCTAssertEqual(
      decode("48 0f bb 43 08")?.instruction,
      .bitTest(operation: .complement, size: 8, offset: .register(0)))
    XCTAssertEqual(
      decode("66 0f ba 23 03")?.instruction,
      .bitTest(operation: .test, size: 2, offset: .immediate(3)))
    XCTAssertEqual(decode("66 0f ba 23 03")?.instruction.isStore, false)
    XCTAssertEqual(
      decode("0f ab 0a")?.instruction, .bitTest(operation: .set, size: 4, offset: .register(1)))
    XCTAssertEqual(
      decode("48 0f ba 36 3f")?.instruction,
      .bitTest(operation: .reset, size: 8, offset: .immediate(63)))
    XCTAssertNil(decode("0f ba 1b 01"), "0F BA /3 is undefined")
    XCTAssertEqual(
      decode("44 0f bc 0b")?.instruction,
      .bitScan(reverse: false, size: 4, destinationRegister: 9))
    XCTAssertEqual(
      decode("48 0f bd 03")?.instruction, .bitScan(reverse: true, size: 8, destinationRegister: 0))
    XCTAssertNil(decode("f3 0f bc 03"), "TZCNT is not BSF")
    XCTAssertEqual(
      decode("66 0f af 03")?.instruction,
      .signedMultiply(size: 2, destinationRegister: 0, immediate: nil))
    XCTAssertEqual(
      decode("66 6b 03 33")?.instruction,
      .signedMultiply(size: 2, destinationRegister: 0, immediate: 0x33))
    XCTAssertEqual(
      decode("66 6b 03 ff")?.instruction,
      .signedMultiply(size: 2, destinationRegister: 0, immediate: 0xFFFF), "Ib sign-extended")
    XCTAssertEqual(
      decode("48 69 03 37 01 00 00")?.instruction,
      .signedMultiply(size: 8, destinationRegister: 0, immediate: 0x137))
    XCTAssertEqual(decode("48 69 03 37 01 00 00")?.length, 7)
    XCTAssertEqual(
      decode("0f a5 13")?.instruction,
      .doubleShift(left: true, size: 4, register: 2, count: .cl))
    XCTAssertEqual(
      decode("0f ac 13 03")?.instruction,
      .doubleShift(left: false, size: 4, register: 2, count: .immediate(3)))
    XCTAssertEqual(
      decode("4c 0f a4 43 10 01")?.instruction,
      .doubleShift(left: true, size: 8, register: 8, count: .immediate(1)))
    XCTAssertEqual(decode("4c 0f a4 43 10 01")?.length, 6)
    XCTAssertNil(decode("0f a3 c0"), "register operand: not MMIO")
  }

  /// kvm-unit-tests' test_btc: the register offset selects a unit away from the operand.
  func testRegisterBitOffsetsReachOtherUnits() {
    XCTAssertEqual(BitArithmetic.registerBitOffset(66, size: 4).displacement, 8)
    XCTAssertEqual(BitArithmetic.registerBitOffset(66, size: 4).bit, 2)
    XCTAssertEqual(BitArithmetic.registerBitOffset(~0, size: 4).displacement, 0 &- 4)
    XCTAssertEqual(BitArithmetic.registerBitOffset(~0, size: 4).bit, 31)
    XCTAssertEqual(BitArithmetic.registerBitOffset(~0, size: 8).displacement, 0 &- 8)
    XCTAssertEqual(BitArithmetic.registerBitOffset(~0, size: 8).bit, 63)
    // 16 bits: only AX counts, signed: -17 is unit -2 (bytes -4), bit 15.
    XCTAssertEqual(BitArithmetic.registerBitOffset(0x1234_0000_FFEF, size: 2).displacement, 0 &- 4)
    XCTAssertEqual(BitArithmetic.registerBitOffset(0x1234_0000_FFEF, size: 2).bit, 15)
    // 32 bits: bit 32 of the register is not part of the offset.
    XCTAssertEqual(BitArithmetic.registerBitOffset(0x1_0000_0040, size: 4).displacement, 8)
    // The decoded operand moves by the displacement: btc %eax, 0xc(%rbx) with EAX = -1.
    var registers = GuestRegisters()
    registers.rax = 0xFFFF_FFFF
    registers.rbx = 0x1000
    let access = decode("0f bb 43 0c")!
    XCTAssertEqual(
      access.operand(registers: registers)?.effectiveAddress(registers: registers, nextRIP: 0),
      0x1008)
    XCTAssertEqual(
      decode("0f ba 7b 0c 40")!.operand(registers: registers)?.effectiveAddress(
        registers: registers, nextRIP: 0), 0x100C, "the immediate form does not move")
  }

  func testBitTestFamilyResultsAndCarry() {
    // btcl $32, (%rbx) on 0: bit 0 flipped, CF = 0 (the old bit).
    var r = run("0f ba 3b 20", memory: 0) { $0.rflags |= self.cf }
    XCTAssertEqual(r.memory, 1)
    XCTAssertEqual(r.registers.rflags & cf, 0)
    // btc %eax, (%rbx) with EAX = 66: bit 2 of the unit, CF 0.
    r = run("0f bb 03", memory: 0) { $0.rax = 66 }
    XCTAssertEqual(r.memory, 4)
    // btcq %rax with RAX = -1 on a unit holding a[0] = 1, a[1] = 2: bit 63 set.
    r = run("48 0f bb 03", memory: 0x2_0000_0001) { $0.rax = ~0 }
    XCTAssertEqual(r.memory, 0x8000_0002_0000_0001)
    // btw $3, (%rbx) on 8: CF = 1, memory untouched, ZF and SF kept.
    r = run("66 0f ba 23 03", memory: 8) { $0.rflags |= self.zf | self.sf }
    XCTAssertEqual(r.writes, 0)
    XCTAssertEqual(r.registers.rflags, 0x2 | cf | zf | sf)
    // btrq $63 on the top bit: cleared, CF = 1.
    r = run("48 0f ba 36 3f", memory: 1 << 63) { _ in }
    XCTAssertEqual(r.memory, 0)
    XCTAssertEqual(r.registers.rflags & cf, cf)
    // bts %ecx, (%rdx) with ECX = 35: bit 3 of the next dword; the unit here is that dword.
    r = run("0f ab 0a", memory: 0) { $0.rcx = 35 }
    XCTAssertEqual(r.memory, 8)
    XCTAssertEqual(r.registers.rflags & cf, 0)
  }

  func testBitScans() {
    var r = run("66 0f bc 03", memory: 0xC000) { $0.rax = 0xFFFF_FFFF_FFFF_FFFF }
    XCTAssertEqual(r.registers.rax, 0xFFFF_FFFF_FFFF_000E, "BSF 16: AX only")
    XCTAssertEqual(r.registers.rflags & zf, 0)
    r = run("66 0f bd 03", memory: 0xC000) { _ in }
    XCTAssertEqual(r.registers.rax, 15)
    r = run("44 0f bc 0b", memory: 0xC000_0000) { $0.r9 = ~0 }
    XCTAssertEqual(r.registers.r9, 30, "32-bit destination zero-extended")
    r = run("48 0f bd 03", memory: 0xC000_0000_0000) { _ in }
    XCTAssertEqual(r.registers.rax, 47)
    // A zero source: ZF set, destination kept; other flags kept.
    r = run("48 0f bd 03", memory: 0) {
      $0.rax = 0x1234
      $0.rflags |= self.cf
    }
    XCTAssertEqual(r.registers.rax, 0x1234)
    XCTAssertEqual(r.registers.rflags, 0x2 | zf | cf)
    XCTAssertEqual(r.writes, 0)
  }

  /// kvm-unit-tests' test_imul values; CF = OF = 1 exactly when the product was truncated.
  func testSignedMultiply() {
    var r = run("66 0f af 03", memory: 51) { $0.rax = 0x1234_5678_1234_5678 }
    XCTAssertEqual(r.registers.rax, 0x1234_5678_1234_39E8)
    XCTAssertEqual(r.registers.rflags & (cf | of), cf | of)
    r = run("0f af 03", memory: 51) { $0.rax = 0x1234_5678_1234_5678 }
    XCTAssertEqual(r.registers.rax, 0xA06D_39E8)
    r = run("66 6b 03 33", memory: 0x1234_5678_1234_5678) { $0.rax = 0x8765_4321_8765_4321 }
    XCTAssertEqual(r.registers.rax, 0x8765_4321_8765_39E8)
    r = run("69 03 37 01 00 00", memory: 0x1234_5678) { _ in }
    XCTAssertEqual(r.registers.rax, 0x1D95_0BC8)
    r = run("48 0f af 03", memory: 51) { $0.rax = 0x1234_5678_1234_5678 }
    XCTAssertEqual(r.registers.rax, 0xA06D_39EB_A06D_39E8)
    XCTAssertEqual(r.registers.rflags & (cf | of), cf | of)
    r = run("48 69 03 37 01 00 00", memory: 0x1234_5678_1234_5678) { _ in }
    XCTAssertEqual(r.registers.rax, 0x1D95_0BDE_1D95_0BC8)
    // -2 * 3 = -6 fits in 16 bits: CF = OF = 0, ZF/SF kept as they were.
    r = run("66 6b 03 03", memory: 0xFFFE) { $0.rflags |= self.cf | self.of | self.zf }
    XCTAssertEqual(r.registers.rax & 0xFFFF, 0xFFFA)
    XCTAssertEqual(r.registers.rflags, 0x2 | zf)
    // INT64_MIN * -1 overflows.
    r = run("48 0f af 03", memory: 1 << 63) { $0.rax = ~0 }
    XCTAssertEqual(r.registers.rax, 1 << 63)
    XCTAssertEqual(r.registers.rflags & (cf | of), cf | of)
    XCTAssertEqual(r.writes, 0)
  }

  func testDoubleShifts() {
    // kvm-unit-tests' test_shld_shrd.
    var r = run("0f a5 13", memory: 0x1234_5678) {
      $0.rdx = 0xAAAA_AAAA
      $0.rcx = 3
    }
    XCTAssertEqual(r.memory, 0x91A2_B3C5)
    // CF = bit 29 of 0x12345678 = 0; SF = 1; PF: 0xC5 has 4 ones; OF: sign 0 -> 1.
    XCTAssertEqual(r.registers.rflags, 0x2 | sf | pf | of)
    r = run("0f ac 13 03", memory: 0x1234_5678) { $0.rdx = 0x5555_5555 }
    XCTAssertEqual(r.memory, 0xA246_8ACF)
    // SHLD by 1: 0x40000000 <- 0x80000000: 0x80000001, CF 0, OF 1, PF 0 (0x01).
    r = run("0f a4 13 01", memory: 0x4000_0000) { $0.rdx = 0x8000_0000 }
    XCTAssertEqual(r.memory, 0x8000_0001)
    XCTAssertEqual(r.registers.rflags, 0x2 | sf | of)
    // SHRD by 1 of 1 with 0: 0, CF 1, ZF, PF.
    r = run("0f ac 13 01", memory: 1) { _ in }
    XCTAssertEqual(r.memory, 0)
    XCTAssertEqual(r.registers.rflags, 0x2 | cf | zf | pf)
    // 16 bits by 4: 0x1234 <- 0xABCD = 0x234A, CF = bit 12 of 0x1234 = 1.
    r = run("66 0f a4 13 04", memory: 0x1234) { $0.rdx = 0xABCD }
    XCTAssertEqual(r.memory, 0x234A)
    XCTAssertEqual(r.registers.rflags & cf, cf)
    // 64 bits by 4 right: 0x0123456789ABCDEF with 0xF on top, CF = bit 3 = 1.
    r = run("48 0f ac 13 04", memory: 0x0123_4567_89AB_CDEF) { $0.rdx = 0xF }
    XCTAssertEqual(r.memory, 0xF012_3456_789A_BCDE)
    XCTAssertEqual(r.registers.rflags & (cf | sf), cf | sf)
    // A count of 32 is 0 for 32-bit operands: no write, flags kept.
    r = run("0f a5 13", memory: 5) {
      $0.rcx = 32
      $0.rflags |= self.cf
    }
    XCTAssertEqual(r.writes, 0)
    XCTAssertEqual(r.registers.rflags, 0x2 | cf)
  }
}
