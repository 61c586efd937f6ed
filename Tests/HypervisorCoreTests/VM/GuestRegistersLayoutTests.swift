import HypervisorCore
import XCTest

/// The world switch (boot/*_world_switch.asm) addresses the register file by these offsets.
final class GuestRegistersLayoutTests: XCTestCase {
  func testGeneralPurposeRegisterOffsets() {
    let paths: [(PartialKeyPath<GuestRegisters>, Int, String)] = [
      (\.rax, 0, "rax"), (\.rcx, 8, "rcx"), (\.rdx, 16, "rdx"), (\.rbx, 24, "rbx"),
      (\.rsp, 32, "rsp"), (\.rbp, 40, "rbp"), (\.rsi, 48, "rsi"), (\.rdi, 56, "rdi"),
      (\.r8, 64, "r8"), (\.r9, 72, "r9"), (\.r10, 80, "r10"), (\.r11, 88, "r11"),
      (\.r12, 96, "r12"), (\.r13, 104, "r13"), (\.r14, 112, "r14"), (\.r15, 120, "r15"),
      (\.rip, 128, "rip"), (\.rflags, 136, "rflags"),
    ]
    for (path, offset, name) in paths {
      XCTAssertEqual(MemoryLayout<GuestRegisters>.offset(of: path), offset, name)
    }
  }

  func testSizeAndStride() {
    XCTAssertEqual(MemoryLayout<GuestRegisters>.size, 144)
    XCTAssertEqual(MemoryLayout<GuestRegisters>.stride, 144)
  }

  func testFloatingPointAreaFollowsAligned() {
    XCTAssertEqual(VirtualCPU.floatingPointOffset, 160)
    XCTAssertGreaterThanOrEqual(VirtualCPU.floatingPointOffset, MemoryLayout<GuestRegisters>.size)
    XCTAssertEqual(VirtualCPU.floatingPointOffset % 16, 0, "FXSAVE needs 16-byte alignment")
    XCTAssertEqual(VirtualCPU.registerFileSize, 160 + 512)
  }

  func testFaultAddressSlotLiesBetweenRegistersAndFloatingPoint() {
    // boot/guest_register_file.inc: REG_CR2 144 (VMX keeps the guest's CR2 there).
    XCTAssertEqual(VirtualCPU.faultAddressOffset, 144)
    XCTAssertGreaterThanOrEqual(VirtualCPU.faultAddressOffset, MemoryLayout<GuestRegisters>.size)
    XCTAssertLessThanOrEqual(VirtualCPU.faultAddressOffset + 8, VirtualCPU.floatingPointOffset)
    let vcpu = VirtualCPU(index: 0)
    XCTAssertEqual(vcpu.faultAddress, 0)
    vcpu.faultAddress = 0xDEAD_B000
    XCTAssertEqual(vcpu.registerFile.load(fromByteOffset: 144, as: UInt64.self), 0xDEAD_B000)
    XCTAssertEqual(vcpu.registers, GuestRegisters(), "the general registers are untouched")
  }

  func testRegisterFileIsSixtyFourByteAligned() {
    for index in 0..<4 {
      let vcpu = VirtualCPU(index: index)
      XCTAssertEqual(UInt(bitPattern: vcpu.registerFile) % 64, 0)
    }
  }

  func testInitialState() {
    let vcpu = VirtualCPU(index: 0)
    let file = vcpu.registerFile
    let floatingPoint = file + VirtualCPU.floatingPointOffset
    XCTAssertEqual(floatingPoint.load(as: UInt16.self), 0x037F, "FCW after FNINIT")
    XCTAssertEqual(floatingPoint.load(fromByteOffset: 24, as: UInt32.self), 0x1F80, "MXCSR")
    XCTAssertEqual(floatingPoint.load(fromByteOffset: 2, as: UInt16.self), 0, "FSW")
    XCTAssertEqual(
      file.load(fromByteOffset: 136, as: UInt64.self), 0x2, "RFLAGS bit 1 is always set")
    for offset in stride(from: 0, to: 136, by: 8) {
      XCTAssertEqual(file.load(fromByteOffset: offset, as: UInt64.self), 0, "offset \(offset)")
    }
    XCTAssertEqual(vcpu.state, .runnable)
    XCTAssertNil(vcpu.pendingEvent)
  }

  func testRegistersPropertyIsTheRegisterFile() {
    let vcpu = VirtualCPU(index: 0)
    vcpu.registers.r15 = 0x1122_3344_5566_7788
    vcpu.registers.rip = 0xFFF0
    XCTAssertEqual(
      vcpu.registerFile.load(fromByteOffset: 120, as: UInt64.self), 0x1122_3344_5566_7788)
    XCTAssertEqual(vcpu.registerFile.load(fromByteOffset: 128, as: UInt64.self), 0xFFF0)
    vcpu.registerFile.storeBytes(of: 0xABCD, toByteOffset: 8, as: UInt64.self)
    XCTAssertEqual(vcpu.registers.rcx, 0xABCD)
    vcpu.advance(by: 3)
    XCTAssertEqual(vcpu.registers.rip, 0xFFF3)
  }

  func testSubscriptByNumber() {
    var registers = GuestRegisters()
    for number in 0..<16 { registers[number] = UInt64(number) * 0x1_0000_0001 + 1 }
    XCTAssertEqual(registers.rax, 1)
    XCTAssertEqual(registers.rcx, 0x1_0000_0002)
    XCTAssertEqual(registers.rsp, 4 * 0x1_0000_0001 + 1)
    XCTAssertEqual(registers.rdi, 7 * 0x1_0000_0001 + 1)
    XCTAssertEqual(registers.r8, 8 * 0x1_0000_0001 + 1)
    XCTAssertEqual(registers.r15, 15 * 0x1_0000_0001 + 1)
    for number in 0..<16 { XCTAssertEqual(registers[number], UInt64(number) * 0x1_0000_0001 + 1) }
    XCTAssertEqual(registers[16], registers.rax, "only the low four bits select")
    XCTAssertEqual(registers.rip, 0, "RIP is not a numbered register")
  }

  func testEdxEax() {
    var registers = GuestRegisters()
    registers.rax = 0xFFFF_FFFF_1111_1111
    registers.rdx = 0xFFFF_FFFF_2222_2222
    XCTAssertEqual(registers.edxEax, 0x2222_2222_1111_1111, "upper halves ignored")
    registers.edxEax = 0xAAAA_BBBB_CCCC_DDDD
    XCTAssertEqual(registers.rax, 0xCCCC_DDDD, "upper half cleared")
    XCTAssertEqual(registers.rdx, 0xAAAA_BBBB)
  }
}
