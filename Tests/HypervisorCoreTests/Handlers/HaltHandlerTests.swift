import HypervisorCore
import XCTest

final class HaltHandlerTests: MachineTestCase {
  private let interruptFlag: UInt64 = 1 << 9

  private func halt(_ machine: TestMachine, vcpu: VirtualCPU, interrupts: Bool, length: UInt8? = 1)
    -> ExitOutcome
  {
    vcpu.registers.rflags = 0x2 | (interrupts ? interruptFlag : 0)
    if length == nil { machine.placeInstruction([0xF4], on: vcpu) }
    return machine.dispatch(VMExit(reason: .halt, instructionLength: length), on: vcpu)
  }

  func testHaltWithInterruptsDisabledStopsTheVM() {
    let machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x7C00)
    XCTAssertEqual(
      halt(machine, vcpu: machine.vcpu, interrupts: false), .stop(.haltedWithInterruptsDisabled))
    XCTAssertEqual(machine.vcpu.state, .stopped)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x7C01)
  }

  /// The last running vCPU stops while the others wait for a SIPI that nobody is left to
  /// send: the VM ends. A SIPI already posted keeps it alive.
  func testTheVMEndsWhenNoRunningVCPUIsLeftToStartTheOthers() {
    let machine = makeMachine(cpus: 3)
    machine.vm.holdApplicationProcessors()
    XCTAssertEqual(
      halt(machine, vcpu: machine.vcpu, interrupts: false), .stop(.haltedWithInterruptsDisabled))

    let starting = makeMachine(cpus: 3)
    starting.vm.holdApplicationProcessors()
    starting.vm.vcpus[2].postStartup(vector: 1)
    XCTAssertEqual(halt(starting, vcpu: starting.vcpu, interrupts: false), .halt)
    _ = VCPURequests.drain(starting.vm.vcpus[2], vm: starting.vm)
    XCTAssertEqual(starting.vm.vcpus[2].state, .runnable, "started by the SIPI")
  }

  func testHaltWithInterruptsEnabledButNoSourceStopsTheVM() {
    let machine = makeMachine()
    machine.vm.hasInterruptSources = false
    XCTAssertEqual(
      halt(machine, vcpu: machine.vcpu, interrupts: true), .stop(.haltedWithoutInterruptSource))
    XCTAssertEqual(machine.vcpu.state, .stopped)
  }

  func testHaltWithInterruptsEnabledAndASourceWaits() {
    let machine = makeMachine()
    machine.vm.hasInterruptSources = true
    XCTAssertEqual(halt(machine, vcpu: machine.vcpu, interrupts: true), .halt)
    XCTAssertEqual(machine.vcpu.state, .halted)
    XCTAssertEqual(machine.vcpu.registers.rip, 1, "RIP past HLT, so the interrupt returns after it")
  }

  func testInterruptSourceDoesNotHelpWithInterruptsDisabled() {
    let machine = makeMachine()
    machine.vm.hasInterruptSources = true
    XCTAssertEqual(
      halt(machine, vcpu: machine.vcpu, interrupts: false), .stop(.haltedWithInterruptsDisabled))
  }

  func testOneOfSeveralVCPUsHaltingDoesNotStopTheVM() {
    let machine = makeMachine(cpus: 3)
    let vcpus = machine.vm.vcpus
    XCTAssertEqual(halt(machine, vcpu: vcpus[1], interrupts: false), .halt)
    XCTAssertEqual(vcpus[1].state, .stopped)
    XCTAssertEqual(vcpus[0].state, .runnable)
    XCTAssertEqual(halt(machine, vcpu: vcpus[0], interrupts: false), .halt)
    // The last one ends the VM.
    XCTAssertEqual(
      halt(machine, vcpu: vcpus[2], interrupts: false), .stop(.haltedWithInterruptsDisabled))
  }

  func testAHaltedButWakeableVCPUKeepsTheVMAlive() {
    let machine = makeMachine(cpus: 2)
    machine.vm.hasInterruptSources = true
    let vcpus = machine.vm.vcpus
    XCTAssertEqual(halt(machine, vcpu: vcpus[0], interrupts: true), .halt)
    XCTAssertEqual(halt(machine, vcpu: vcpus[1], interrupts: false), .halt, "vCPU 0 can still wake")
    XCTAssertEqual(vcpus[0].state, .halted)
    XCTAssertEqual(vcpus[1].state, .stopped)
  }

  func testDecodedHLTLength() {
    let machine = makeMachine()
    machine.enterRealMode(cs: 0x2000, ip: 0x10)
    machine.vm.hasInterruptSources = true
    XCTAssertEqual(halt(machine, vcpu: machine.vcpu, interrupts: true, length: nil), .halt)
    XCTAssertEqual(machine.vcpu.registers.rip, 0x11)
  }

  func testDecodedHLTInLongMode() {
    let machine = makeMachine()
    machine.enterLongMode(ripOffset: 0x40)
    XCTAssertEqual(
      halt(machine, vcpu: machine.vcpu, interrupts: false, length: nil),
      .stop(.haltedWithInterruptsDisabled))
    XCTAssertEqual(machine.vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x41)
  }

  func testUnreadableHLTStopsWithAFetchFailure() {
    let machine = makeMachine()
    machine.guest.guestMode = GuestMode(width: .protected32, cr0: 0x11)
    machine.vcpu.registers.rip = 0xC_0000  // in the hole
    machine.vcpu.registers.rflags = 0x202
    machine.vm.hasInterruptSources = true
    XCTAssertEqual(
      machine.dispatch(VMExit(reason: .halt)), .stop(.instructionFetchFailed(rip: 0xC_0000)))
    XCTAssertEqual(machine.vcpu.state, .runnable, "not halted: the instruction did not complete")
  }
}
