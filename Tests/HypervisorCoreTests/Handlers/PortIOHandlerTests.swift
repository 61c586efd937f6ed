import HypervisorCore
import XCTest

final class PortIOHandlerTests: MachineTestCase {
  private var machine: TestMachine!
  private var vcpu: VirtualCPU { machine.vcpu }

  override func setUp() {
    super.setUp()
    machine = makeMachine(name: "uart-vm")
    machine.enterRealMode(cs: 0x0100, ip: 0x0020)
  }

  private func read(_ port: UInt16, size: UInt8, length: UInt8? = 1) -> ExitOutcome {
    machine.dispatch(
      VMExit(
        reason: .portIO(PortAccess(port: port, size: size, direction: .read)),
        instructionLength: length))
  }

  private func write(_ port: UInt16, size: UInt8, value: UInt64, length: UInt8? = 1) -> ExitOutcome
  {
    vcpu.registers.rax = value
    return machine.dispatch(
      VMExit(
        reason: .portIO(PortAccess(port: port, size: size, direction: .write)),
        instructionLength: length))
  }

  // MARK: UART

  func testTHRWritesReachTheConsoleTaggedWithTheVMName() {
    for byte in Array("hi\n".utf8) {
      XCTAssertEqual(write(0x3F8, size: 1, value: 0xAB00 | UInt64(byte)), .resume)
    }
    XCTAssertEqual(machine.console.text(from: "uart-vm"), "hi\n")
    XCTAssertEqual(machine.console.names, ["uart-vm"])
    XCTAssertEqual(vcpu.registers.rip, 0x23)
    XCTAssertEqual(vcpu.statistics.unhandledPortWrites, 0)
  }

  func testTwoVMsKeepTheirOwnTags() {
    let other = makeMachine(name: "second")
    other.vcpu.registers.rax = UInt64(UInt8(ascii: "B"))
    _ = other.dispatch(
      VMExit(
        reason: .portIO(PortAccess(port: 0x3F8, size: 1, direction: .write)), instructionLength: 1))
    _ = write(0x3F8, size: 1, value: UInt64(UInt8(ascii: "A")))
    XCTAssertEqual(machine.console.text(from: "uart-vm"), "A")
    XCTAssertEqual(other.console.text(from: "second"), "B")
    XCTAssertEqual(machine.console.text(from: "second"), "")
  }

  func testLineStatusReportsTheTransmitterEmpty() {
    vcpu.registers.rax = 0x1234_5678_9ABC_DEFF
    XCTAssertEqual(read(0x3FD, size: 1), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0x1234_5678_9ABC_DE60, "LSR 0x60 merged into AL")
    XCTAssertEqual(vcpu.registers.rip, 0x21)
    XCTAssertEqual(vcpu.statistics.unhandledPortReads, 0)
  }

  func testUARTScratchRegisterReadsBack() {
    _ = write(0x3FF, size: 1, value: 0x5A)
    vcpu.registers.rax = 0
    _ = read(0x3FF, size: 1)
    XCTAssertEqual(vcpu.registers.rax, 0x5A)
  }

  func testDivisorLatchWriteDoesNotTransmit() {
    _ = write(0x3FB, size: 1, value: 0x83)  // LCR: DLAB
    _ = write(0x3F8, size: 1, value: 0x01)  // divisor low
    _ = write(0x3FB, size: 1, value: 0x03)
    XCTAssertEqual(machine.console.writeCount, 0)
  }

  // MARK: Unhandled ports

  func testUnknownPortEightBitReadKeepsTheUpperBits() {
    vcpu.registers.rax = 0x1122_3344_5566_7700
    XCTAssertEqual(read(0x80, size: 1), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0x1122_3344_5566_77FF)
    XCTAssertEqual(vcpu.statistics.unhandledPortReads, 1)
  }

  func testUnknownPortSixteenBitReadKeepsTheUpperBits() {
    vcpu.registers.rax = 0x1122_3344_5566_7788
    XCTAssertEqual(read(0x2F8, size: 2), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0x1122_3344_5566_FFFF)
    XCTAssertEqual(vcpu.statistics.unhandledPortReads, 1)
  }

  func testUnknownPortThirtyTwoBitReadZeroExtends() {
    vcpu.registers.rax = 0x1122_3344_5566_7788
    XCTAssertEqual(read(0xCFC, size: 4), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0x0000_0000_FFFF_FFFF)
    XCTAssertEqual(vcpu.statistics.unhandledPortReads, 1)
  }

  func testUnknownPortWriteIsCountedAndDropped() {
    XCTAssertEqual(write(0x70, size: 1, value: 0x8F), .resume)
    XCTAssertEqual(write(0xCF8, size: 4, value: 0x8000_0000), .resume)
    XCTAssertEqual(vcpu.statistics.unhandledPortWrites, 2)
    XCTAssertEqual(vcpu.statistics.unhandledPortReads, 0)
    XCTAssertEqual(vcpu.registers.rip, 0x22)
    XCTAssertEqual(machine.console.writeCount, 0)
  }

  // MARK: Debug exit

  func testDebugExitPortStopsTheVMWithTheValue() {
    XCTAssertEqual(write(0xF4, size: 1, value: 0xFFFF_FF03), .stop(.debugExit(value: 3)))
    XCTAssertEqual(vcpu.registers.rip, 0x20, "the VM ends; RIP does not matter, but is not moved")
  }

  func testDebugExitPortThirtyTwoBitValue() {
    XCTAssertEqual(
      write(0xF4, size: 4, value: 0xFFFF_FFFF_0001_0002), .stop(.debugExit(value: 0x1_0002)))
  }

  func testDebugExitPortReportsQEMUStatus() {
    // QEMU's isa-debug-exit ends with (value << 1) | 1: kvm-unit-tests' PASS is value 0 → 1.
    XCTAssertEqual(StopReason.debugExit(value: 0).debugExitStatus, 1)
    XCTAssertEqual(StopReason.debugExit(value: 0x3F).debugExitStatus, 0x7F)
    XCTAssertNil(StopReason.guestRequested(code: 0).debugExitStatus)
  }

  func testDebugExitPortZeroMeansSuccess() {
    XCTAssertEqual(write(0xF4, size: 1, value: 0), .stop(.debugExit(value: 0)))
  }

  // MARK: String I/O and decoding

  private func string(
    _ direction: PortAccess.Direction, port: UInt16, size: UInt8 = 1, repeated: Bool = true,
    instruction bytes: [UInt8], length: UInt8? = nil
  ) -> ExitOutcome {
    machine.placeInstruction(bytes)
    return machine.dispatch(
      VMExit(
        reason: .portIO(
          PortAccess(
            port: port, size: size, direction: direction, isString: true, isRepeated: repeated)),
        instructionLength: length))
  }

  func testRepOutsbWritesGuestMemoryToTheUART() {
    machine.write(Array("hi!".utf8), at: 0x500)
    vcpu.registers.rsi = 0x500
    vcpu.registers.rcx = 3
    // F3 6E: REP OUTSB (DS:SI, DS base 0).
    XCTAssertEqual(string(.write, port: 0x3F8, instruction: [0xF3, 0x6E], length: 2), .resume)
    XCTAssertEqual(machine.console.text(from: "uart-vm"), "hi!")
    XCTAssertEqual(vcpu.registers.rsi, 0x503)
    XCTAssertEqual(vcpu.registers.rcx, 0)
    XCTAssertEqual(vcpu.registers.rip, 0x22)
  }

  func testOutsDownwardAndWithASegmentOverride() {
    machine.write(Array("abc".utf8), at: 0x2500)
    machine.guest.guestMode.extraSegmentBase = 0x2000
    vcpu.registers.rflags |= 1 << 10  // DF
    vcpu.registers.rsi = 0x502
    vcpu.registers.rcx = 3
    // 26 F3 6E: REP OUTSB from ES:SI, downward.
    XCTAssertEqual(string(.write, port: 0x3F8, instruction: [0x26, 0xF3, 0x6E]), .resume)
    XCTAssertEqual(machine.console.text(from: "uart-vm"), "cba")
    XCTAssertEqual(vcpu.registers.rsi, 0x4FF)
    XCTAssertEqual(vcpu.registers.rip, 0x23)
  }

  func testRepInsWithAHugeCountIsDoneInBoundedChunks() {
    let chunk = MemoryAccessEmulator.maximumIterationsPerExit
    vcpu.registers.rcx = 0x1234_0000_0000_FFFF  // CX = 0xFFFF
    vcpu.registers.rdi = 0x0600
    machine.guest.guestMode.extraSegmentBase = 0
    // F3 6C: REP INSB from a port with no device: all ones.
    XCTAssertEqual(string(.read, port: 0x80, instruction: [0xF3, 0x6C]), .resume)
    XCTAssertEqual(
      machine.read(Int(chunk) + 1, at: 0x600), Array(repeating: 0xFF, count: Int(chunk)) + [0])
    XCTAssertEqual(vcpu.registers.rcx, 0x1234_0000_0000_FFFF - chunk)
    XCTAssertEqual(vcpu.registers.rdi, 0x600 + chunk)
    XCTAssertEqual(vcpu.registers.rip, 0x20, "an interrupted REP stays on the instruction")
    XCTAssertEqual(vcpu.statistics.unhandledPortReads, chunk)
  }

  func testLongModeRepInsdStopsAtThePageEnd() {
    machine.enterLongMode()
    vcpu.registers.rcx = ~0
    vcpu.registers.rdi = 0x1FF8
    let rip = vcpu.registers.rip
    // F3 6D: REP INSD, RCX = -1: two doublewords fit before the page ends.
    XCTAssertEqual(string(.read, port: 0x80, size: 4, instruction: [0xF3, 0x6D]), .resume)
    XCTAssertEqual(vcpu.registers.rdi, 0x2000)
    XCTAssertEqual(vcpu.registers.rcx, ~0 - 2)
    XCTAssertEqual(vcpu.registers.rip, rip)
  }

  func testSingleInsAdvancesRIP() {
    vcpu.registers.rdi = 0x700
    // 6C: INSB without REP; CX is not touched.
    vcpu.registers.rcx = 5
    XCTAssertEqual(string(.read, port: 0x80, repeated: false, instruction: [0x6C]), .resume)
    XCTAssertEqual(machine.read(1, at: 0x700), [0xFF])
    XCTAssertEqual(vcpu.registers.rdi, 0x701)
    XCTAssertEqual(vcpu.registers.rcx, 5)
    XCTAssertEqual(vcpu.registers.rip, 0x21)
  }

  func testOutsFromMMIOStopsTheVM() {
    machine.enterLongMode()
    vcpu.registers.rsi = TestMMIODevice.defaultBase
    vcpu.registers.rcx = 4
    XCTAssertEqual(
      string(.write, port: 0x3F8, instruction: [0xF3, 0x6E]),
      .stop(.stringIOOperandNotRAM(port: 0x3F8, guestLinear: TestMMIODevice.defaultBase)))
    XCTAssertEqual(machine.console.writeCount, 0, "nothing was transmitted")
    XCTAssertEqual(vcpu.registers.rcx, 4)
  }

  func testInsIntoAnUnmappedLinearPageIsAPageFault() {
    machine.enterLongMode()
    let rip = vcpu.registers.rip
    vcpu.registers.rdi = 0x8000_0000  // not in the guest's page tables
    XCTAssertEqual(string(.read, port: 0x80, repeated: false, instruction: [0x6C]), .resume)
    // P = 0 (not present), W/R = 1: INS writes memory (SDM 3A Figure 4-12).
    XCTAssertEqual(vcpu.pendingEvent, .exception(vector: 14, errorCode: 0x2))
    XCTAssertEqual(machine.guest.faultAddress, 0x8000_0000)
    XCTAssertEqual(vcpu.registers.rip, rip)
    XCTAssertEqual(vcpu.registers.rdi, 0x8000_0000)
  }

  func testUserInsIntoASupervisorPageIsAPageFault() {
    machine.enterLongMode()  // every page supervisor
    machine.guest.cpl = 3
    let rip = vcpu.registers.rip
    vcpu.registers.rdi = 0x700
    vcpu.registers.rcx = 4
    machine.write([0xAA], at: 0x700)
    XCTAssertEqual(string(.read, port: 0x80, instruction: [0xF3, 0x6C]), .resume)
    XCTAssertEqual(vcpu.pendingEvent, .exception(vector: 14, errorCode: 0x7))
    XCTAssertEqual(machine.guest.faultAddress, 0x700)
    XCTAssertEqual(machine.read(1, at: 0x700), [0xAA], "nothing stored")
    XCTAssertEqual(vcpu.registers.rcx, 4)
    XCTAssertEqual(vcpu.registers.rip, rip)
  }

  func testUserOutsFromASupervisorPageIsAPageFault() {
    machine.enterLongMode()
    machine.guest.cpl = 3
    vcpu.registers.rsi = 0x500
    XCTAssertEqual(string(.write, port: 0x3F8, repeated: false, instruction: [0x6E]), .resume)
    XCTAssertEqual(vcpu.pendingEvent, .exception(vector: 14, errorCode: 0x5))
    XCTAssertEqual(machine.console.writeCount, 0)
  }

  func testStringExitOverOtherBytesIsReexecuted() {
    vcpu.registers.rsi = 0x500
    vcpu.registers.rcx = 3
    // The exit says REP OUTSB, the bytes at RIP are REP INSB.
    XCTAssertEqual(string(.write, port: 0x3F8, instruction: [0xF3, 0x6C]), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x20)
    XCTAssertEqual(vcpu.registers.rcx, 3)
    XCTAssertEqual(vcpu.statistics.decodeMismatches, 1)
    XCTAssertEqual(machine.console.writeCount, 0)
  }

  func testDecodedLengthOfInAndOut() {
    // EC: IN AL, DX.
    XCTAssertEqual(
      machine.dispatchDecoding(
        .portIO(PortAccess(port: 0x3FD, size: 1, direction: .read)), instruction: [0xEC]),
      .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x21)
    // 66 ED: IN EAX, DX in real mode.
    XCTAssertEqual(
      machine.dispatchDecoding(
        .portIO(PortAccess(port: 0x80, size: 4, direction: .read)), instruction: [0x66, 0xED]),
      .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x23)
    XCTAssertEqual(vcpu.registers.rax, 0xFFFF_FFFF)
    // E6 80: OUT 0x80, AL.
    XCTAssertEqual(
      machine.dispatchDecoding(
        .portIO(PortAccess(port: 0x80, size: 1, direction: .write)), instruction: [0xE6, 0x80]),
      .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x25)
  }
}
