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
      machine.dispatch(access(8, .write), on: machine.vcpu), .stop(.unexpectedExit(vendorCode: 8)))
  }
}
