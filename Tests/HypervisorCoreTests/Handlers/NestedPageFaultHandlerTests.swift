import HypervisorCore
import XCTest

final class NestedPageFaultHandlerTests: MachineTestCase {
  private let device = TestMMIODevice.defaultBase

  private func fault(
    _ machine: TestMachine, at address: UInt64, _ access: NestedPageFault.Access,
    instruction bytes: [UInt8]?,
    length: UInt8? = nil
  ) -> ExitOutcome {
    if let bytes { machine.placeInstruction(bytes) }
    return machine.dispatch(
      VMExit(
        reason: .nestedPageFault(NestedPageFault(guestPhysical: address, access: access)),
        instructionLength: length))
  }

  private func realModeMachine(unmapped: VMProfile.UnmappedAccessPolicy = .stop) -> TestMachine {
    let machine = makeMachine(unmapped: unmapped)
    machine.enterRealMode(cs: 0x0800, ip: 0x0010)  // linear 0x8010
    // "Big real mode": DS and ES bases left at the device by a return from protected mode,
    // so that [BX] and ES:[DI] reach it. The handler checks that the operand's address is
    // the faulting one.
    machine.guest.guestMode.dataSegmentBase = device
    machine.guest.guestMode.extraSegmentBase = device
    return machine
  }

  // MARK: Real mode

  func testRealModeSixteenBitLoadOfTheIdentification() throws {
    let machine = realModeMachine()
    machine.vcpu.registers.rax = 0x1111_2222_3333_4444
    // 8B 07: MOV AX, [BX].
    XCTAssertEqual(fault(machine, at: device, .read, instruction: [0x8B, 0x07]), .resume)
    XCTAssertEqual(
      machine.vcpu.registers.rax, 0x1111_2222_3333_5245, "low word of 'PERE', upper bits kept")
    XCTAssertEqual(machine.vcpu.registers.rip, 0x12)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, 1)
  }

  func testRealModeOperandSizePrefixLoadsThirtyTwoBits() {
    let machine = realModeMachine()
    // 66 8B 0F: MOV ECX, [BX].
    XCTAssertEqual(fault(machine, at: device, .read, instruction: [0x66, 0x8B, 0x0F]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rcx & 0xFFFF_FFFF, 0x5045_5245)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x13)
  }

  func testRealModeStoreToTheScratchRegister() throws {
    let machine = realModeMachine()
    machine.vcpu.registers.rax = 0xFFFF_FFFF_FFFF_BEEF
    machine.vcpu.registers.rbx = 8
    // 89 07: MOV [BX], AX.
    XCTAssertEqual(fault(machine, at: device + 8, .write, instruction: [0x89, 0x07]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).scratch, 0xBEEF)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x12)
  }

  func testRealModeImmediateStoreWithDisplacement() throws {
    let machine = realModeMachine()
    // C7 47 08 34 12: MOV WORD [BX+8], 0x1234 (the fault reports the effective address).
    XCTAssertEqual(
      fault(machine, at: device + 8, .write, instruction: [0xC7, 0x47, 0x08, 0x34, 0x12]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).scratch, 0x1234)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x15)
  }

  func testRealModeRepStosIntoTheScratchRegister() throws {
    let machine = realModeMachine()
    machine.vcpu.registers.rax = 0xAABB_CCDD
    machine.vcpu.registers.rcx = 0xFFFF_0002  // CX = 2; the upper bits are not the count
    machine.vcpu.registers.rdi = 0x0008
    // F3 66 AB: REP STOSD with 16-bit addressing: DI and CX.
    XCTAssertEqual(
      fault(machine, at: device + 8, .write, instruction: [0xF3, 0x66, 0xAB]), .resume)
    XCTAssertEqual(
      try XCTUnwrap(machine.testDevice).scratch, 0xAABB_CCDD_AABB_CCDD, "two dwords at +8 and +12")
    XCTAssertEqual(machine.testDevice?.accesses, 2)
    XCTAssertEqual(machine.vcpu.registers.rcx, 0xFFFF_0000)
    XCTAssertEqual(machine.vcpu.registers.rdi, 0x0010)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x13)
  }

  func testRealModeRepStosWithZeroCountWritesNothing() throws {
    let machine = realModeMachine()
    machine.vcpu.registers.rax = 0x55
    machine.vcpu.registers.rcx = 0
    machine.vcpu.registers.rdi = 8
    XCTAssertEqual(fault(machine, at: device + 8, .write, instruction: [0xF3, 0xAA]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).accesses, 0)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x12)
  }

  // MARK: Long mode

  func testLongModeSixtyFourBitStoreAndLoad() throws {
    let machine = makeMachine()
    machine.enterLongMode()
    machine.vcpu.registers.rax = 0x0123_4567_89AB_CDEF
    machine.vcpu.registers.rdi = device + 8
    // 48 89 07: MOV [RDI], RAX.
    XCTAssertEqual(
      fault(machine, at: device + 8, .write, instruction: [0x48, 0x89, 0x07]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).scratch, 0x0123_4567_89AB_CDEF)
    XCTAssertEqual(machine.vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x103)
    // 4C 8B 1F: MOV R11, [RDI].
    XCTAssertEqual(fault(machine, at: device + 8, .read, instruction: [0x4C, 0x8B, 0x1F]), .resume)
    XCTAssertEqual(machine.vcpu.registers.r11, 0x0123_4567_89AB_CDEF)
    XCTAssertEqual(machine.vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x106)
  }

  func testLongModeThirtyTwoBitLoadZeroExtends() {
    let machine = makeMachine()
    machine.enterLongMode()
    machine.vcpu.registers.rdx = 0xFFFF_FFFF_FFFF_FFFF
    machine.vcpu.registers.rdi = device
    // 8B 17: MOV EDX, [RDI].
    XCTAssertEqual(fault(machine, at: device, .read, instruction: [0x8B, 0x17]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rdx, 0x5045_5245)
  }

  func testLongModeRIPRelativeLoadOfTheAccessCounter() {
    let machine = makeMachine()
    machine.enterLongMode()
    // 44 8B 05 disp32: MOV R8D, [RIP+disp32]; seven bytes. Next RIP 0x4000_0107 plus
    // 0x2F_FF09 is linear 0x4030_0010, which enterLongMode maps to the device + 0x10.
    XCTAssertEqual(
      fault(
        machine, at: device + 0x10, .read, instruction: [0x44, 0x8B, 0x05, 0x09, 0xFF, 0x2F, 0x00]),
      .resume)
    XCTAssertEqual(machine.vcpu.registers.r8, 1, "this read is the first access")
    XCTAssertEqual(machine.vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x107)
  }

  func testLongModeRepStosq() throws {
    let machine = makeMachine()
    machine.enterLongMode()
    machine.vcpu.registers.rax = 0xFEED_FACE_CAFE_BEEF
    machine.vcpu.registers.rcx = 1
    machine.vcpu.registers.rdi = device + 8
    // F3 48 AB: REP STOSQ.
    XCTAssertEqual(
      fault(machine, at: device + 8, .write, instruction: [0xF3, 0x48, 0xAB]), .resume)
    XCTAssertEqual(try XCTUnwrap(machine.testDevice).scratch, 0xFEED_FACE_CAFE_BEEF)
    XCTAssertEqual(machine.vcpu.registers.rcx, 0)
    XCTAssertEqual(machine.vcpu.registers.rdi, device + 0x10)
  }

  func testReportedInstructionLengthIsNotWhatMovesRIP() {
    // A VMX-style exit carries no length for EPT violations, but if one were reported the
    // decoded length still decides: the emulator advances RIP itself.
    let machine = realModeMachine()
    XCTAssertEqual(
      fault(machine, at: device, .read, instruction: [0x8B, 0x07], length: 2), .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x12)
  }

  // MARK: Unmapped accesses

  func testUnmappedAccessBeyondMemoryStops() {
    let machine = realModeMachine()
    let address: UInt64 = 0xE000_0000
    XCTAssertEqual(
      fault(machine, at: address, .read, instruction: [0x8B, 0x07]),
      .stop(.unmappedAccess(guestPhysical: address, access: .read, beyondMemory: true)))
    XCTAssertEqual(machine.vcpu.registers.rip, 0x10)
  }

  func testUnmappedAccessInsideTheHoleStops() {
    let machine = realModeMachine()
    XCTAssertEqual(
      fault(machine, at: 0xB_8000, .write, instruction: [0x89, 0x07]),
      .stop(.unmappedAccess(guestPhysical: 0xB_8000, access: .write, beyondMemory: false)))
  }

  func testUnmappedAccessAtTheEndOfMemoryIsBeyondIt() {
    let machine = realModeMachine()
    let end = machine.ramSize
    XCTAssertEqual(
      fault(machine, at: end, .read, instruction: nil),
      .stop(.unmappedAccess(guestPhysical: end, access: .read, beyondMemory: true)))
  }

  func testUnmappedReadUnderIgnoreReadsAllOnes() {
    let machine = realModeMachine(unmapped: .ignore)
    machine.guest.guestMode.dataSegmentBase = 0xE000_0000
    machine.vcpu.registers.rax = 0x1234_0000
    XCTAssertEqual(fault(machine, at: 0xE000_0000, .read, instruction: [0x8B, 0x07]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rax, 0x1234_FFFF)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x12)
    XCTAssertEqual(machine.vcpu.statistics.unmappedMMIOAccesses, 1)
  }

  func testUnmappedWriteUnderIgnoreIsDroppedAndCounted() {
    let machine = realModeMachine(unmapped: .ignore)
    machine.guest.guestMode.dataSegmentBase = 0xB_8000
    XCTAssertEqual(fault(machine, at: 0xB_8000, .write, instruction: [0xC6, 0x07, 0x41]), .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x13)
    XCTAssertEqual(machine.vcpu.statistics.unmappedMMIOAccesses, 1)
    XCTAssertEqual(machine.read(1, at: 0xB_8000), nil, "still not RAM")
  }

  func testInstructionFetchFromMMIOStops() {
    let machine = realModeMachine(unmapped: .ignore)
    XCTAssertEqual(
      fault(machine, at: device, .instructionFetch, instruction: nil),
      .stop(.unmappedAccess(guestPhysical: device, access: .instructionFetch, beyondMemory: true)))
    XCTAssertEqual(machine.testDevice?.accesses, 0)
  }

  func testInstructionFetchFromTheHoleStops() {
    let machine = realModeMachine(unmapped: .ignore)
    XCTAssertEqual(
      fault(machine, at: 0xC_0000, .instructionFetch, instruction: nil),
      .stop(
        .unmappedAccess(guestPhysical: 0xC_0000, access: .instructionFetch, beyondMemory: false)))
  }

  // MARK: Undecodable

  func testUnsupportedInstructionStops() {
    let machine = realModeMachine()
    // D1 27: SHL WORD [BX], 1.
    XCTAssertEqual(
      fault(machine, at: device + 8, .write, instruction: [0xD1, 0x27]),
      .stop(.unsupportedMMIOInstruction(guestPhysical: device + 8, opcode: 0xD1)))
    XCTAssertEqual(machine.testDevice?.accesses, 0)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x10)
  }

  func testUnsupportedTwoByteInstructionReportsTheSecondByte() {
    let machine = makeMachine()
    machine.enterLongMode()
    // 0F C3 07: MOVNTI [RDI], EAX.
    XCTAssertEqual(
      fault(machine, at: device + 8, .write, instruction: [0x0F, 0xC3, 0x07]),
      .stop(.unsupportedMMIOInstruction(guestPhysical: device + 8, opcode: 0xC3)))
  }

  func testUnsupportedInstructionUnderIgnoreStillStops() {
    let machine = realModeMachine(unmapped: .ignore)
    XCTAssertEqual(
      fault(machine, at: 0xE000_0000, .read, instruction: [0xD1, 0x07]),
      .stop(.unsupportedMMIOInstruction(guestPhysical: 0xE000_0000, opcode: 0xD1)))
  }

  func testInstructionThatCannotBeFetchedStops() {
    let machine = makeMachine()
    machine.guest.guestMode = GuestMode(width: .protected32, cr0: 0x11)
    machine.vcpu.registers.rip = 0xA_0000  // the hole
    XCTAssertEqual(
      fault(machine, at: device, .read, instruction: nil),
      .stop(.instructionFetchFailed(rip: 0xA_0000)))
  }
}
