import HypervisorCore
import XCTest

/// BT's register form and the SSE moves through the nested-page-fault handler, against an
/// I/O RAM (pc-testdev's) in 64-bit mode: BT's bit offset moves the operand, which must be
/// where the fault was; a 16-byte move reaches the guest's XMM register in the FXSAVE image
/// and is split where it crosses from the device into RAM; a misaligned MOVAPS is #GP(0).
final class BitAndVectorMMIOTests: IORAMTestCase {
  private func xmm(_ machine: TestMachine, _ number: Int) -> UnsafeMutableRawPointer {
    machine.vcpu.registerFile + VirtualCPU.floatingPointOffset + 160 + 16 * number
  }

  /// kvm-unit-tests' test_btc: `btcl %eax, (%rdi)` with EAX = 66 touches the dword 8 bytes
  /// on; a fault reported at the undisplaced operand is not this instruction's.
  func testBitTestRegisterFormFaultsAtTheSelectedUnit() {
    let (machine, ioRAM) = ioRAMMachine()
    let rip = machine.vcpu.registers.rip
    machine.vcpu.registers.rax = 66
    machine.vcpu.registers.rdi = ioRAMBase
    XCTAssertEqual(fault(machine, at: ioRAMBase, .write, instruction: [0x0F, 0xBB, 0x07]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, rip, "decode mismatch: executed again")
    XCTAssertEqual(ioRAM.read(offset: 8, size: 4), 0)
    XCTAssertEqual(
      fault(machine, at: ioRAMBase + 8, .write, instruction: [0x0F, 0xBB, 0x07]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 3)
    XCTAssertEqual(ioRAM.read(offset: 8, size: 4), 4)
    XCTAssertEqual(ioRAM.read(offset: 0, size: 4), 0)
  }

  func testMovdquStoreAndMovupsLoadReachTheXMMRegisters() {
    let (machine, ioRAM) = ioRAMMachine()
    xmm(machine, 1).storeBytes(of: 0x0000_0002_0000_0001, as: UInt64.self)
    xmm(machine, 1).storeBytes(of: 0x0000_0004_0000_0003, toByteOffset: 8, as: UInt64.self)
    machine.vcpu.registers.rdi = ioRAMBase + 0x10
    let rip = machine.vcpu.registers.rip
    // f3 0f 7f 0f: movdqu %xmm1, (%rdi)
    XCTAssertEqual(
      fault(machine, at: ioRAMBase + 0x10, .write, instruction: [0xF3, 0x0F, 0x7F, 0x0F]),
      .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 4)
    XCTAssertEqual(ioRAM.read(offset: 0x10, size: 8), 0x0000_0002_0000_0001)
    XCTAssertEqual(ioRAM.read(offset: 0x18, size: 8), 0x0000_0004_0000_0003)
    _ = ioRAM.write(offset: 0x18, size: 4, value: 8)
    // 0f 10 17: movups (%rdi), %xmm2
    XCTAssertEqual(
      fault(machine, at: ioRAMBase + 0x10, .read, instruction: [0x0F, 0x10, 0x17]), .resume)
    XCTAssertEqual(xmm(machine, 2).load(as: UInt64.self), 0x0000_0002_0000_0001)
    XCTAssertEqual(xmm(machine, 2).load(fromByteOffset: 8, as: UInt64.self), 0x0000_0004_0000_0008)
  }

  func testAMoveCrossingFromTheDeviceIntoRAMIsSplit() {
    let (machine, ioRAM) = ioRAMMachine()
    xmm(machine, 0).storeBytes(of: 0x1111_1111_1111_1111, as: UInt64.self)
    xmm(machine, 0).storeBytes(of: 0x2222_2222_2222_2222, toByteOffset: 8, as: UInt64.self)
    machine.vcpu.registers.rdi = splitLinear + 0xFFC
    // 0f 11 07: movups %xmm0, (%rdi): 4 bytes in the device, 12 in RAM.
    XCTAssertEqual(
      fault(machine, at: ioRAMBase + 0xFFC, .write, instruction: [0x0F, 0x11, 0x07]), .resume)
    XCTAssertEqual(ioRAM.read(offset: 0xFFC, size: 4), 0x1111_1111)
    XCTAssertEqual(machine.readU64(at: ramPage), 0x2222_2222_1111_1111)
    XCTAssertEqual(machine.read(4, at: ramPage + 8), [0x22, 0x22, 0x22, 0x22])
  }

  func testMisalignedMovapsIsAGeneralProtectionFault() {
    let (machine, ioRAM) = ioRAMMachine()
    xmm(machine, 0).storeBytes(of: UInt64.max, as: UInt64.self)
    machine.vcpu.registers.rdi = ioRAMBase + 8
    let rip = machine.vcpu.registers.rip
    // 0f 29 07: movaps %xmm0, (%rdi)
    XCTAssertEqual(
      fault(machine, at: ioRAMBase + 8, .write, instruction: [0x0F, 0x29, 0x07]), .resume)
    XCTAssertEqual(machine.vcpu.pendingEvent, .exception(vector: 13, errorCode: 0))
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
    XCTAssertEqual(ioRAM.read(offset: 8, size: 8), 0, "nothing written")
  }
}
