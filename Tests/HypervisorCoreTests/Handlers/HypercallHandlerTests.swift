import HypervisorCore
import XCTest

final class HypercallHandlerTests: MachineTestCase {
  private var machine: TestMachine!
  private var vcpu: VirtualCPU { machine.vcpu }

  override func setUp() {
    super.setUp()
    machine = makeMachine(name: "hc-guest")
    machine.enterRealMode(cs: 0, ip: 0x1000)
  }

  @discardableResult
  private func hypercall(
    _ number: UInt64, rbx: UInt64 = 0, rcx: UInt64 = 0, length: UInt8? = 3
  ) -> ExitOutcome {
    vcpu.registers.rax = number
    vcpu.registers.rbx = rbx
    vcpu.registers.rcx = rcx
    if length == nil { machine.placeInstruction([0x0F, 0x01, 0xD9]) }  // VMMCALL
    return machine.dispatch(VMExit(reason: .hypercall, instructionLength: length))
  }

  func testIdentify() {
    XCTAssertEqual(hypercall(0), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0)
    XCTAssertEqual(vcpu.registers.rbx, 0x4E47_5250)
    XCTAssertEqual(vcpu.registers.rcx, 1)
    XCTAssertEqual(vcpu.registers.rip, 0x1003)
  }

  func testIdentifyWithDecodedVMMCALLAndVMCALL() {
    XCTAssertEqual(hypercall(0, length: nil), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x1003)
    machine.placeInstruction([0x0F, 0x01, 0xC1])  // VMCALL
    vcpu.registers.rax = 0
    XCTAssertEqual(machine.dispatch(VMExit(reason: .hypercall)), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x1006)
    XCTAssertEqual(vcpu.registers.rbx, 0x4E47_5250)
  }

  func testIdentifyInLongMode() {
    machine.enterLongMode()
    XCTAssertEqual(hypercall(0, length: nil), .resume)
    XCTAssertEqual(vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x103)
  }

  // MARK: Console write

  func testConsoleWriteReachesTheConsole() {
    let text = Array("PASS hypercall\n".utf8)
    machine.write(text, at: 0x2_0000)
    XCTAssertEqual(hypercall(1, rbx: 0x2_0000, rcx: UInt64(text.count)), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0)
    XCTAssertEqual(machine.console.bytes(from: "hc-guest"), text)
    XCTAssertEqual(vcpu.registers.rip, 0x1003)
  }

  func testConsoleWriteFromTheUpperRegion() {
    machine.write(Array("up".utf8), at: 0x30_0000)
    XCTAssertEqual(hypercall(1, rbx: 0x30_0000, rcx: 2), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0)
    XCTAssertEqual(machine.console.text(from: "hc-guest"), "up")
  }

  func testConsoleWriteOfExactlyTheMaximum() {
    machine.write([UInt8](repeating: UInt8(ascii: "x"), count: 4096), at: 0x4_0000)
    hypercall(1, rbx: 0x4_0000, rcx: 4096)
    XCTAssertEqual(vcpu.registers.rax, 0)
    XCTAssertEqual(machine.console.bytes(from: "hc-guest").count, 4096)
  }

  func testConsoleWriteTooLongIsABadLength() {
    XCTAssertEqual(hypercall(1, rbx: 0x4_0000, rcx: 4097), .resume)
    XCTAssertEqual(vcpu.registers.rax, status(-3))
    XCTAssertEqual(machine.console.writeCount, 0)
    XCTAssertEqual(vcpu.registers.rip, 0x1003, "a failed call still completes")
  }

  func testConsoleWriteOutsideRAMIsABadAddress() {
    // Past the end, in the hole, straddling the end of the low region, and wrapping.
    for (address, length) in [
      (machine.ramSize, UInt64(1)), (UInt64(0xA_0000), 4), (UInt64(0x9_FFFE), 4),
      (UInt64.max - 1, 4),
    ] {
      XCTAssertEqual(hypercall(1, rbx: address, rcx: length), .resume)
      XCTAssertEqual(vcpu.registers.rax, status(-2), "address \(address) length \(length)")
    }
    XCTAssertEqual(machine.console.writeCount, 0)
  }

  // MARK: Statistics

  func testStatisticsRecords() {
    let statistics = vcpu.statistics
    statistics.record(.cpuid, cycles: 100)
    statistics.record(.cpuid, cycles: 50)
    statistics.record(.portIO, cycles: 7)
    statistics.record(.hypercall, cycles: 1000)
    let buffer: UInt64 = 0x5_0000
    machine.write([UInt8](repeating: 0xEE, count: 24 * 8), at: buffer)
    XCTAssertEqual(hypercall(2, rbx: buffer, rcx: 24 * 8), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0)
    XCTAssertEqual(vcpu.registers.rcx, 3, "records written")
    XCTAssertEqual(vcpu.registers.rdx, 4, "total exits")
    let expected: [(UInt64, UInt64, UInt64)] = [(0, 2, 150), (3, 1, 7), (5, 1, 1000)]
    for (index, record) in expected.enumerated() {
      let base = buffer + UInt64(index * 24)
      XCTAssertEqual(machine.readU64(at: base), record.0, "kind of record \(index)")
      XCTAssertEqual(machine.readU64(at: base + 8), record.1, "count of record \(index)")
      XCTAssertEqual(machine.readU64(at: base + 16), record.2, "cycles of record \(index)")
    }
    XCTAssertEqual(
      machine.read(8, at: buffer + 72), [UInt8](repeating: 0xEE, count: 8),
      "nothing past the records")
  }

  func testStatisticsStopAtTheBufferCapacity() {
    vcpu.statistics.record(.cpuid, cycles: 1)
    vcpu.statistics.record(.msrRead, cycles: 2)
    vcpu.statistics.record(.halt, cycles: 3)
    let buffer: UInt64 = 0x5_0000
    machine.write([UInt8](repeating: 0xEE, count: 64), at: buffer)
    XCTAssertEqual(hypercall(2, rbx: buffer, rcx: 47), .resume)  // room for one record
    XCTAssertEqual(vcpu.registers.rax, 0)
    XCTAssertEqual(vcpu.registers.rcx, 1)
    XCTAssertEqual(vcpu.registers.rdx, 3)
    XCTAssertEqual(machine.readU64(at: buffer), 0)
    XCTAssertEqual(machine.read(8, at: buffer + 24), [UInt8](repeating: 0xEE, count: 8))
  }

  func testStatisticsBufferTooSmallIsABadLength() {
    vcpu.statistics.record(.cpuid, cycles: 1)
    XCTAssertEqual(hypercall(2, rbx: 0x5_0000, rcx: 23), .resume)
    XCTAssertEqual(vcpu.registers.rax, status(-3))
    XCTAssertEqual(hypercall(2, rbx: 0x5_0000, rcx: 0), .resume)
    XCTAssertEqual(vcpu.registers.rax, status(-3))
  }

  func testStatisticsBufferOutsideRAMIsABadAddress() {
    vcpu.statistics.record(.cpuid, cycles: 1)
    XCTAssertEqual(hypercall(2, rbx: machine.ramSize - 24, rcx: 48), .resume)
    XCTAssertEqual(vcpu.registers.rax, status(-2))
    XCTAssertEqual(hypercall(2, rbx: 0x5_0000, rcx: UInt64.max), .resume)
    XCTAssertEqual(vcpu.registers.rax, status(-2))
  }

  // MARK: Stop, unknown, privilege

  func testStopReturnsTheGuestsCode() {
    XCTAssertEqual(hypercall(3, rbx: 0x2A), .stop(.guestRequested(code: 0x2A)))
    XCTAssertEqual(
      hypercall(3, rbx: 0xFFFF_FFFF_FFFF_FFFF), .stop(.guestRequested(code: 0xFFFF_FFFF_FFFF_FFFF)))
  }

  func testUnknownCall() {
    XCTAssertEqual(hypercall(4), .resume)
    XCTAssertEqual(vcpu.registers.rax, UInt64(bitPattern: -1))
    XCTAssertEqual(vcpu.registers.rip, 0x1003)
    XCTAssertEqual(hypercall(0x1_0000_0000), .resume, "the whole of RAX selects the call")
    XCTAssertEqual(vcpu.registers.rax, UInt64(bitPattern: -1))
  }

  func testUserModeIsNotPermitted() {
    machine.guest.cpl = 3
    XCTAssertEqual(hypercall(3, rbx: 0), .resume, "CPL 3 cannot stop the VM")
    XCTAssertEqual(vcpu.registers.rax, status(-4))
    XCTAssertEqual(vcpu.registers.rip, 0x1003)
    machine.write(Array("x".utf8), at: 0x2_0000)
    hypercall(1, rbx: 0x2_0000, rcx: 1)
    XCTAssertEqual(vcpu.registers.rax, status(-4))
    XCTAssertEqual(machine.console.writeCount, 0)
  }

  func testRingOneIsNotPermittedEither() {
    machine.guest.cpl = 1
    hypercall(0)
    XCTAssertEqual(vcpu.registers.rax, status(-4))
    XCTAssertEqual(vcpu.registers.rbx, 0, "identify did not run")
  }
}
