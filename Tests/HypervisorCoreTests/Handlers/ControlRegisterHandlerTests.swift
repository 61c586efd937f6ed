import HypervisorCore
import XCTest

final class ControlRegisterHandlerTests: MachineTestCase {
  private func access(_ register: UInt8, _ kind: ControlRegisterAccess.Kind, gpr: UInt8 = 0)
    -> VMExit
  {
    VMExit(
      reason: .controlRegisterAccess(
        ControlRegisterAccess(register: register, kind: kind, generalRegister: gpr)),
      instructionLength: 3)
  }

  func testMoveToCR0GoesThroughTheBackendAndCompletes() {
    let machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x1000)
    machine.vcpu.registers.rbx = 0x11
    XCTAssertEqual(machine.dispatch(access(0, .write, gpr: 3), on: machine.vcpu), .resume)
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x11)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x1003)
    XCTAssertNil(machine.vcpu.pendingEvent)
  }

  func testARefusedValueInjectsGeneralProtectionWithoutCompleting() {
    let machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x1000)
    machine.vcpu.registers.rax = 1 << 31  // PG without PE
    XCTAssertEqual(machine.dispatch(access(0, .write, gpr: 0), on: machine.vcpu), .resume)
    XCTAssertEqual(machine.vcpu.pendingEvent, .exception(vector: 13, errorCode: 0))
    XCTAssertEqual(machine.vcpu.registers.rip, 0x1000)
  }

  func testMoveFromCR4ReadsTheGuestView() {
    let machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x1000)
    machine.guest.guestMode.cr4 = 0x20
    XCTAssertEqual(machine.dispatch(access(4, .read, gpr: 9), on: machine.vcpu), .resume)
    XCTAssertEqual(machine.vcpu.registers.r9, 0x20)
  }

  func testCLTSClearsTaskSwitchedAndLMSWCannotClearPE() {
    let machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x1000)
    machine.guest.guestMode.cr0 = 0x19  // PE, TS, ET
    XCTAssertEqual(machine.dispatch(access(0, .clts), on: machine.vcpu), .resume)
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x11)
    XCTAssertEqual(machine.dispatch(access(0, .lmsw(sourceData: 0x0)), on: machine.vcpu), .resume)
    XCTAssertEqual(machine.guest.guestMode.cr0 & 1, 1, "LMSW sets PE but never clears it")
  }

  func testOtherControlRegistersStopTheVM() {
    let machine = makeMachine()
    XCTAssertEqual(
      machine.dispatch(access(2, .write), on: machine.vcpu), .stop(.unexpectedExit(vendorCode: 2)))
  }

  /// MOV CR8 is the local APIC's TPR[7:4] (SDM 3A §11.8.6.1): a write sets TPR to class
  /// << 4, which the xAPIC page reads (kvm-unit-tests' apic_disable "*0xfee00080"); a read
  /// gives TPR[7:4]; bits 63:4 #GP(0).
  func testMoveToAndFromCR8IsTheLocalAPICsTaskPriority() {
    let machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x1000)
    let apic = LocalAPICModel(id: 0, clock: NanosecondClock())
    machine.vcpu.localAPIC = apic
    _ = apic.write(offset: 0x80, size: 4, value: 0x3C)
    XCTAssertEqual(machine.dispatch(access(8, .read, gpr: 1), on: machine.vcpu), .resume)
    XCTAssertEqual(machine.vcpu.registers.rcx, 3)
    machine.vcpu.registers.rdx = 0xF
    XCTAssertEqual(machine.dispatch(access(8, .write, gpr: 2), on: machine.vcpu), .resume)
    XCTAssertEqual(apic.read(offset: 0x80, size: 4), 0xF0, "TPR[3:0] cleared")
    XCTAssertEqual(machine.vcpu.registers.rip, 0x1006)
    apic.request(0xE5)
    XCTAssertNil(apic.pendingVector, "the class gates delivery")
    machine.vcpu.registers.rdx = 0x10
    XCTAssertEqual(machine.dispatch(access(8, .write, gpr: 2), on: machine.vcpu), .resume)
    XCTAssertEqual(machine.vcpu.pendingEvent, .exception(vector: 13, errorCode: 0))
    XCTAssertEqual(machine.vcpu.registers.rip, 0x1006, "not completed")
    XCTAssertEqual(apic.read(offset: 0x80, size: 4), 0xF0, "unchanged")
  }

  // MARK: The rules (SDM 2B MOV CR #GP(0); CR4 bits only for offered features)

  func testCR4BitsCPUIDDoesNotOfferGetGeneralProtection() {
    let machine = makeMachine()
    machine.enterProtectedMode32(eip: 0x2000)
    for bit: UInt64 in [1 << 13, 1 << 14, 1 << 18, 1 << 31] {  // VMXE, SMXE, OSXSAVE, reserved
      machine.vcpu.pendingEvent = nil
      machine.vcpu.registers.rax = 0x20 | bit
      XCTAssertEqual(machine.dispatch(access(4, .write, gpr: 0)), .resume)
      XCTAssertEqual(machine.vcpu.pendingEvent, .generalProtection(0), String(bit, radix: 16))
      XCTAssertEqual(machine.guest.guestMode.cr4, 0, "nothing reached the backend")
      XCTAssertEqual(machine.vcpu.registers.rip, 0x2000, "a fault: RIP stays")
    }
  }

  func testAnOfferedCR4BitIsApplied() {
    let machine = makeMachine()
    machine.enterProtectedMode32(eip: 0x2000)
    machine.vcpu.registers.rcx = 0x20 | 0x80  // PAE, PGE
    XCTAssertEqual(machine.dispatch(access(4, .write, gpr: 1)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.guestMode.cr4, 0xA0)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2003)
  }

  func testCR0ReservedHighBitsAndNWWithoutCD() {
    let machine = makeMachine()
    machine.enterLongMode()
    for value: UInt64 in [1 << 32 | 0x8000_0011, 0xA000_0011] {
      machine.vcpu.pendingEvent = nil
      machine.vcpu.registers.rdx = value
      XCTAssertEqual(machine.dispatch(access(0, .write, gpr: 2)), .resume)
      XCTAssertEqual(machine.vcpu.pendingEvent, .generalProtection(0), String(value, radix: 16))
      XCTAssertEqual(machine.guest.guestMode.cr0, 0x8000_0011)
    }
  }

  func testOutside64BitModeTheSourceIs32Bits() {
    let machine = makeMachine()
    machine.enterProtectedMode32(eip: 0x2000)
    machine.vcpu.registers.rax = 0xFFFF_FFFF_0000_0031  // high half ignored: CR0 = 0x31
    XCTAssertEqual(machine.dispatch(access(0, .write, gpr: 0)), .resume)
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x31)
  }

  // MARK: SVM without decode assists: the handler reads the instruction

  func testUnknownSourceRegisterIsDecodedFromTheInstruction() {
    let machine = makeMachine()
    machine.enterLongMode()
    machine.vcpu.registers.r9 = 0x20 | 0x100  // PAE, PCE
    let rip = machine.vcpu.registers.rip
    machine.dispatchDecoding(
      .controlRegisterAccess(
        ControlRegisterAccess(
          register: 4, kind: .write, generalRegister: ControlRegisterHandler.unknownRegister)),
      instruction: [0x41, 0x0F, 0x22, 0xE1])  // mov cr4, r9
    XCTAssertNil(machine.vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.guestMode.cr4, 0x120)
    XCTAssertEqual(machine.vcpu.registers.rip, rip + 4)
  }

  func testUnknownSourceRefusedValueFaultsAtTheInstruction() {
    let machine = makeMachine()
    machine.enterLongMode()
    machine.vcpu.registers.rax = 0x20 | 1 << 13  // VMXE
    let rip = machine.vcpu.registers.rip
    machine.dispatchDecoding(
      .controlRegisterAccess(
        ControlRegisterAccess(
          register: 4, kind: .write, generalRegister: ControlRegisterHandler.unknownRegister)),
      instruction: [0x0F, 0x22, 0xE0])
    XCTAssertEqual(machine.vcpu.pendingEvent, .generalProtection(0))
    XCTAssertEqual(machine.vcpu.registers.rip, rip)
  }

  func testUnknownSourceCLTSAndLMSWAreRecognized() {
    let machine = makeMachine()
    machine.enterProtectedMode32(eip: 0x2000)
    machine.guest.guestMode.cr0 = 0x19  // PE, TS, ET
    let write = ExitReason.controlRegisterAccess(
      ControlRegisterAccess(
        register: 0, kind: .write, generalRegister: ControlRegisterHandler.unknownRegister))
    machine.dispatchDecoding(write, instruction: [0x0F, 0x06])  // clts
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x11)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2002)
    machine.vcpu.registers.rbx = 0x8  // lmsw bx: TS on, PE kept
    machine.dispatchDecoding(write, instruction: [0x0F, 0x01, 0xF3])
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x19)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2005)
  }

  func testLMSWFromMemoryReadsTheWordFromRAM() {
    // kvm-unit-tests' emulator "lmsw (2)": LMSW m16 exits with no register named.
    let machine = makeMachine()
    machine.enterProtectedMode32(eip: 0x2000)
    machine.guest.guestMode.cr0 = 0x11  // PE, ET
    machine.write([0x1D, 0xFF], at: 0x3000)  // bits 3:0 = 1101: PE, EM, TS
    machine.vcpu.registers.rbx = 0x3000
    let write = ExitReason.controlRegisterAccess(
      ControlRegisterAccess(
        register: 0, kind: .write, generalRegister: ControlRegisterHandler.unknownRegister))
    // 0F 01 33: LMSW [EBX].
    XCTAssertEqual(machine.dispatchDecoding(write, instruction: [0x0F, 0x01, 0x33]), .resume)
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x1D, "bits 3:0 loaded, the rest kept")
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2003)
    // 0F 01 73 10: LMSW [EBX+0x10], a word of 0: PE stays set.
    XCTAssertEqual(machine.dispatchDecoding(write, instruction: [0x0F, 0x01, 0x73, 0x10]), .resume)
    XCTAssertEqual(machine.guest.guestMode.cr0, 0x11)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2007)
  }
}
