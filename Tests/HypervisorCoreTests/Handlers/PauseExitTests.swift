import HypervisorCore
import XCTest

/// PAUSE (F3 90), intercepted while a vCPU shares its core: the instruction completes and
/// the vCPU yields the rest of its slice, on both vendors' exits.
final class PauseExitTests: MachineTestCase {
  private var machine: TestMachine!

  override func setUp() {
    super.setUp()
    machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x2000)
  }

  func testPauseWithALengthYieldsAndCompletes() {
    XCTAssertEqual(machine.dispatch(VMExit(reason: .pause, instructionLength: 2)), .yield)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2002)
  }

  /// SVM without NRIPS: the length comes from the bytes at RIP.
  func testPauseWithoutALengthIsFoundAtRIP() {
    machine.placeInstruction([0xF3, 0x90])
    XCTAssertEqual(machine.dispatch(VMExit(reason: .pause)), .yield)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2002)
  }

  /// Bytes that are not PAUSE (a stale TLB): nothing completes, nothing yields.
  func testOtherBytesAtRIPAreAMismatch() {
    machine.placeInstruction([0x0F, 0xA2])
    XCTAssertEqual(machine.dispatch(VMExit(reason: .pause)), .resume)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x2000)
    XCTAssertEqual(machine.vcpu.statistics.decodeMismatches, 1)
  }

  func testQuickCheckKnowsPause() {
    XCTAssertEqual(ExitingInstruction.quickCheck(.pause, 0xF3, 0x90, 0), .length(2))
    XCTAssertEqual(ExitingInstruction.quickCheck(.cpuid, 0xF3, 0x90, 0), .mismatch)
    XCTAssertEqual(ExitingInstruction.quickCheck(.pause, 0x0F, 0xA2, 0), .mismatch)
  }
}
