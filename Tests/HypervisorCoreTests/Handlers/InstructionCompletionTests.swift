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
}
