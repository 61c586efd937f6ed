import HypervisorCore
import XCTest

/// RIP advance on exits without a reported length (SVM without NRIPS): the instruction at
/// RIP is read from guest memory, through the guest's page tables.
final class InstructionCompletionTests: MachineTestCase {
  private var machine: TestMachine!
  private var vcpu: VirtualCPU { machine.vcpu }

  override func setUp() {
    super.setUp()
    machine = makeMachine()
  }

  private func completeCPUID(at ripOffset: UInt64 = 0x100) -> ExitOutcome {
    vcpu.registers.rip = TestMachine.longModeCodeLinear + ripOffset
    vcpu.registers.rax = 0
    return machine.dispatch(VMExit(reason: .cpuid))
  }

  func testUnprefixedLengthsOfTheCommonExits() {
    machine.enterRealMode(cs: 0x0100, ip: 0)
    let cases: [(ExitReason, [UInt8], UInt64)] = [
      (.cpuid, [0x0F, 0xA2], 2),
      (.invalidateCaches, [0x0F, 0x09], 2),
      (.hypercall, [0x0F, 0x01, 0xD9], 3),
      (.hypercall, [0x0F, 0x01, 0xC1], 3),
    ]
    for (reason, bytes, length) in cases {
      let before = vcpu.registers.rip
      vcpu.registers.rax = 0
      XCTAssertEqual(machine.dispatchDecoding(reason, instruction: bytes), .resume)
      XCTAssertEqual(vcpu.registers.rip - before, length, "\(bytes)")
    }
  }

  func testPrefixedAndPageCrossingInstructions() {
    // A CPUID whose last byte is on the next page: 2E 0F | A2 across 0x0FFF/0x1000.
    machine.enterRealMode(cs: 0, ip: 0x0FFE)
    machine.placeInstruction([0x2E, 0x0F, 0xA2])
    vcpu.registers.rax = 0
    XCTAssertEqual(machine.dispatch(VMExit(reason: .cpuid)), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x1001)
  }

  func testCodeRewrittenInPlaceIsSeen() {
    machine.enterLongMode()
    machine.placeInstruction([0x0F, 0xA2])
    XCTAssertEqual(completeCPUID(), .resume)
    XCTAssertEqual(vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x102)
    // The guest writes new code at the same place (a loader reusing a buffer).
    vcpu.registers.rip = TestMachine.longModeCodeLinear + 0x100
    machine.placeInstruction([0x66, 0x0F, 0xA2])
    XCTAssertEqual(completeCPUID(), .resume)
    XCTAssertEqual(vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x103)
  }

  func testANewAddressSpaceIsReadThroughItsOwnTables() {
    machine.enterLongMode()
    machine.placeInstruction([0x0F, 0xA2])
    XCTAssertEqual(completeCPUID(), .resume)
    XCTAssertEqual(vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x102)
    // A second set of tables (CR3 0x80000) maps the same linear page to physical 4 MiB.
    let root: UInt64 = 0x8_0000
    machine.writeU64((root + 0x1000) | 3, at: root)
    machine.writeU64((root + 0x2000) | 3, at: root + 0x1000 + 8)
    machine.writeU64(0x40_0000 | 0x83, at: root + 0x2000)
    machine.write([0x66, 0x0F, 0xA2], at: 0x40_0100)
    machine.guest.guestMode.cr3 = root
    XCTAssertEqual(completeCPUID(), .resume)
    XCTAssertEqual(vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x103)
  }

  /// A guest that remaps its code page under the same CR3 (INVLPG, a reloaded CR3 of the
  /// same value, a page directory reused by the next process) must be seen: the cache
  /// re-reads the page-table entries its walk recorded, so RIP advances by the new
  /// instruction's length.
  func testCodePageCacheNoticesARemapUnderTheSameCR3() {
    machine.enterLongMode()
    machine.placeInstruction([0x0F, 0xA2])
    XCTAssertEqual(completeCPUID(), .resume)
    XCTAssertEqual(vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x102)
    // Same CR3; the 2 MiB page at linear 1 GiB now maps physical 4 MiB, where a three-byte
    // CPUID is. (The guest then flushes its TLB, which the hypervisor does not see.)
    machine.writeU64(0x40_0000 | 0x83, at: TestMachine.pageTableRoot + 0x3000)
    machine.write([0x66, 0x0F, 0xA2], at: 0x40_0100)
    XCTAssertEqual(completeCPUID(), .resume)
    XCTAssertEqual(
      vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x103,
      "RIP must advance by the length of the instruction the guest executed")
  }

  // MARK: The bytes at RIP must be an instruction that causes the exit

  /// The guest remapped its code page without INVLPG: the processor ran CPUID from its
  /// TLB, the walk finds RDMSR. Nothing is emulated, RIP stays, the mismatch is counted.
  func testCPUIDExitOverOtherBytesIsReexecuted() {
    machine.enterLongMode()
    machine.placeInstruction([0x0F, 0x32])
    vcpu.registers.rip = TestMachine.longModeCodeLinear + 0x100
    vcpu.registers.rax = 0x1234
    XCTAssertEqual(machine.dispatch(VMExit(reason: .cpuid)), .resume)
    XCTAssertEqual(vcpu.registers.rip, TestMachine.longModeCodeLinear + 0x100)
    XCTAssertEqual(vcpu.registers.rax, 0x1234, "no CPUID result applied")
    XCTAssertEqual(vcpu.statistics.decodeMismatches, 1)
  }

  func testMismatchesOfEachInstructionExit() {
    machine.enterRealMode(cs: 0x0100, ip: 0)
    let cases: [(ExitReason, [UInt8])] = [
      (.halt, [0x90]),
      (.msrRead, [0x0F, 0x30]),
      (.msrWrite, [0x0F, 0x32]),
      (.hypercall, [0x0F, 0x01, 0xD1]),
      (.xsetbv, [0x0F, 0x01, 0xD9]),
      (.invalidateCaches, [0x0F, 0xA2]),
      (.cpuid, [0x66, 0x0F, 0x32]),  // prefixed: the full decoder decides
      (.cpuid, [0xF4]),
    ]
    for (index, (reason, bytes)) in cases.enumerated() {
      XCTAssertEqual(machine.dispatchDecoding(reason, instruction: bytes), .resume, "\(bytes)")
      XCTAssertEqual(vcpu.registers.rip, 0, "\(bytes)")
      XCTAssertEqual(vcpu.statistics.decodeMismatches, UInt64(index + 1), "\(bytes)")
    }
  }

  func testPrefixedInstructionThatCausesTheExitCompletes() {
    machine.enterLongMode()
    vcpu.registers.rip = TestMachine.longModeCodeLinear + 0x100
    // 2E 48 0F 32: RDMSR with a segment prefix and REX.W, four bytes.
    XCTAssertEqual(
      machine.dispatchDecoding(.msrRead, instruction: [0x2E, 0x48, 0x0F, 0x32]), .resume)
    XCTAssertEqual(vcpu.statistics.decodeMismatches, 0)
  }

  func testHardwareReportedLengthSkipsTheCheck() {
    machine.enterRealMode(cs: 0x0100, ip: 0)
    machine.placeInstruction([0x90])
    XCTAssertEqual(
      machine.dispatch(VMExit(reason: .halt, instructionLength: 1)),
      .stop(.haltedWithInterruptsDisabled), "the HLT handler ran")
    XCTAssertEqual(vcpu.statistics.decodeMismatches, 0)
  }
}
