import HypervisorCore
import XCTest

final class MSRHandlerTests: MachineTestCase {
  private var machine: TestMachine!
  private var vcpu: VirtualCPU { machine.vcpu }

  override func setUp() {
    super.setUp()
    machine = makeMachine()
    machine.enterRealMode(cs: 0, ip: 0x1000)
  }

  @discardableResult
  private func rdmsr(_ index: UInt32, on vcpu: VirtualCPU? = nil, length: UInt8? = 2) -> ExitOutcome
  {
    let vcpu = vcpu ?? machine.vcpu
    vcpu.registers.rcx = UInt64(index)
    vcpu.registers.rax = 0xFFFF_FFFF_FFFF_FFFF
    vcpu.registers.rdx = 0xFFFF_FFFF_FFFF_FFFF
    vcpu.pendingEvent = nil  // the run loop delivers (and clears) it before the next exit
    if length == nil { machine.placeInstruction([0x0F, 0x32], on: vcpu) }
    return machine.dispatch(VMExit(reason: .msrRead, instructionLength: length), on: vcpu)
  }

  @discardableResult
  private func wrmsr(_ index: UInt32, _ value: UInt64, length: UInt8? = 2) -> ExitOutcome {
    vcpu.registers.rcx = UInt64(index)
    vcpu.registers.edxEax = value
    vcpu.pendingEvent = nil
    if length == nil { machine.placeInstruction([0x0F, 0x30]) }
    return machine.dispatch(VMExit(reason: .msrWrite, instructionLength: length))
  }

  private func assertGeneralProtection(
    _ outcome: ExitOutcome, ripBefore: UInt64, refused: UInt64, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertEqual(outcome, .resume, file: file, line: line)
    XCTAssertEqual(vcpu.pendingEvent, .exception(vector: 13, errorCode: 0), file: file, line: line)
    XCTAssertEqual(
      vcpu.registers.rip, ripBefore, "a faulting instruction does not complete", file: file,
      line: line)
    XCTAssertEqual(vcpu.statistics.refusedMSRAccesses, refused, file: file, line: line)
  }

  // MARK: Reads

  func testVendorStateMSRReadComesFromTheGuestState() {
    XCTAssertEqual(rdmsr(0xC000_0082), .resume)
    XCTAssertEqual(vcpu.registers.rax, 0x0010_0000, "low half, upper 32 bits of RAX cleared")
    XCTAssertEqual(vcpu.registers.rdx, 0xFFFF_8000, "high half, upper 32 bits of RDX cleared")
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
    XCTAssertNil(vcpu.pendingEvent)
  }

  func testEFERReadIsRoutedToTheVendor() {
    machine.guest.vendorMSRs[0].value = 0x1D01  // whatever the vendor reports is what the guest sees
    rdmsr(MSRPolicy.efer)
    XCTAssertEqual(vcpu.registers.edxEax, 0x1D01)
  }

  func testVendorStateMSRTheVendorDoesNotHoldIsRefused() {
    machine.guest.vendorMSRs.removeAll(where: { $0.index == 0x176 })
    assertGeneralProtection(rdmsr(0x176), ripBefore: 0x1000, refused: 1)
  }

  func testTimeStampCounterRead() {
    machine.guest.timeStampCounter = 0x0000_0123_8765_4321
    rdmsr(MSRPolicy.timeStampCounter)
    XCTAssertEqual(vcpu.registers.rax, 0x8765_4321)
    XCTAssertEqual(vcpu.registers.rdx, 0x123)
  }

  func testAPICBaseHasTheBSPBitOnlyOnVCPUZero() {
    let multi = makeMachine(cpus: 2)
    for (index, vcpu) in multi.vm.vcpus.enumerated() {
      vcpu.registers.rcx = UInt64(MSRPolicy.apicBase)
      XCTAssertEqual(
        multi.dispatch(VMExit(reason: .msrRead, instructionLength: 2), on: vcpu), .resume)
      let value = vcpu.registers.edxEax
      XCTAssertEqual(value & ~(1 << 8), 0xFEE0_0800, "default base, enabled")
      XCTAssertEqual(value & (1 << 8) != 0, index == 0, "BSP bit on vCPU \(index)")
    }
  }

  func testReadOnlyMSRRead() {
    rdmsr(0x1A0)
    XCTAssertEqual(vcpu.registers.edxEax, 1)
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
  }

  func testUnknownMSRReadInjectsGeneralProtection() {
    assertGeneralProtection(rdmsr(0xC001_1029), ripBefore: 0x1000, refused: 1)
    XCTAssertEqual(vcpu.registers.rax, 0xFFFF_FFFF_FFFF_FFFF, "registers untouched")
    XCTAssertEqual(vcpu.registers.rdx, 0xFFFF_FFFF_FFFF_FFFF)
  }

  func testUnknownMSRReadOnTheDecodePathAlsoLeavesRIP() {
    assertGeneralProtection(rdmsr(0x3A, length: nil), ripBefore: 0x1000, refused: 1)
  }

  func testDecodedRDMSRLength() {
    XCTAssertEqual(rdmsr(0x277, length: nil), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
    XCTAssertEqual(vcpu.registers.edxEax, 0x0007_0406_0007_0406)
  }

  // MARK: Writes

  func testReadOnlyMSRWriteInjectsGeneralProtection() {
    assertGeneralProtection(wrmsr(0xFE, 0), ripBefore: 0x1000, refused: 1)
    assertGeneralProtection(wrmsr(0x1A0, 1), ripBefore: 0x1000, refused: 2)
    XCTAssertTrue(machine.guest.msrWriteLog.isEmpty)
  }

  func testUnknownMSRWriteInjectsGeneralProtection() {
    assertGeneralProtection(wrmsr(0x1234, 5), ripBefore: 0x1000, refused: 1)
  }

  func testValidVendorStateWriteReachesTheGuestState() {
    XCTAssertEqual(wrmsr(0xC000_0082, 0xFFFF_8000_0020_0000), .resume)
    XCTAssertEqual(machine.guest.readStateMSR(0xC000_0082), 0xFFFF_8000_0020_0000)
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
    XCTAssertNil(vcpu.pendingEvent)
  }

  func testDecodedWRMSRLength() {
    XCTAssertEqual(wrmsr(0xC000_0100, 0x7000, length: nil), .resume)
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
    XCTAssertEqual(machine.guest.readStateMSR(0xC000_0100), 0x7000)
  }

  func testEFERReservedBitsRaiseGeneralProtection() {
    assertGeneralProtection(wrmsr(MSRPolicy.efer, 1 << 1), ripBefore: 0x1000, refused: 1)
    assertGeneralProtection(wrmsr(MSRPolicy.efer, 1 << 9), ripBefore: 0x1000, refused: 2)
    assertGeneralProtection(wrmsr(MSRPolicy.efer, 1 << 16), ripBefore: 0x1000, refused: 3)
    XCTAssertEqual(machine.guest.readStateMSR(MSRPolicy.efer), 0xD01, "unchanged")
    // SVME is reserved for a guest that has no SVM.
    assertGeneralProtection(wrmsr(MSRPolicy.efer, 1 << 12), ripBefore: 0x1000, refused: 4)
    // Every other defined bit is accepted.
    XCTAssertEqual(wrmsr(MSRPolicy.efer, 0xED01), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.readStateMSR(MSRPolicy.efer), 0xED01)
  }

  func testInvalidPATTypeRaisesGeneralProtection() {
    // Types 2 and 3 are reserved, and so is anything above 7, in every one of the 8 entries.
    assertGeneralProtection(
      wrmsr(MSRPolicy.pat, 0x0007_0406_0007_0402), ripBefore: 0x1000, refused: 1)
    assertGeneralProtection(
      wrmsr(MSRPolicy.pat, 0x0307_0406_0007_0406), ripBefore: 0x1000, refused: 2)
    assertGeneralProtection(
      wrmsr(MSRPolicy.pat, 0x0007_0406_0008_0406), ripBefore: 0x1000, refused: 3)
    XCTAssertEqual(wrmsr(MSRPolicy.pat, 0x0706_0504_0100_0706), .resume)
    XCTAssertEqual(machine.guest.readStateMSR(MSRPolicy.pat), 0x0706_0504_0100_0706)
  }

  func testNonCanonicalAddressWriteRaisesGeneralProtection() {
    assertGeneralProtection(
      wrmsr(0xC000_0082, 0x0000_8000_0000_0000), ripBefore: 0x1000, refused: 1)
    assertGeneralProtection(
      wrmsr(0xC000_0100, 0xFFFF_7FFF_FFFF_FFFF), ripBefore: 0x1000, refused: 2)
    assertGeneralProtection(wrmsr(0x176, 0x0001_0000_0000_0000), ripBefore: 0x1000, refused: 3)
    XCTAssertEqual(machine.guest.readStateMSR(0xC000_0082), 0xFFFF_8000_0010_0000, "unchanged")
    XCTAssertEqual(wrmsr(0xC000_0082, 0x0000_7FFF_FFFF_F000), .resume)
    XCTAssertEqual(wrmsr(0xC000_0101, 0xFFFF_8000_0000_0000), .resume)
    XCTAssertNil(vcpu.pendingEvent)
  }

  func testTimeStampCounterWriteIsRefused() {
    assertGeneralProtection(wrmsr(MSRPolicy.timeStampCounter, 0), ripBefore: 0x1000, refused: 1)
  }

  func testConstantIgnoringWritesDropsTheValue() {
    XCTAssertEqual(wrmsr(MSRPolicy.apicBase, 0xFEC0_0000), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
    rdmsr(MSRPolicy.apicBase)
    XCTAssertEqual(vcpu.registers.edxEax, 0xFEE0_0900)
  }

  func testShadowedMSRReadsBackWhatWasWritten() {
    rdmsr(0xC001_0015)
    XCTAssertEqual(vcpu.registers.edxEax, 0, "initial value")
    XCTAssertEqual(wrmsr(0xC001_0015, 0x1234_5678_9ABC_DEF0), .resume)
    rdmsr(0xC001_0015)
    XCTAssertEqual(vcpu.registers.edxEax, 0x1234_5678_9ABC_DEF0)
    wrmsr(0xC001_0015, 42)
    rdmsr(0xC001_0015)
    XCTAssertEqual(vcpu.registers.edxEax, 42)
    XCTAssertEqual(vcpu.shadowMSRs.count, 1, "one slot, rewritten")
    XCTAssertTrue(machine.guest.msrWriteLog.isEmpty, "shadowed MSRs never reach the vendor state")
  }

  func testShadowedMSRsArePerVCPU() {
    let multi = makeMachine(cpus: 2)
    let first = multi.vm.vcpus[0]
    first.registers.rcx = 0xC001_0015
    first.registers.edxEax = 7
    XCTAssertEqual(
      multi.dispatch(VMExit(reason: .msrWrite, instructionLength: 2), on: first), .resume)
    let second = multi.vm.vcpus[1]
    second.registers.rcx = 0xC001_0015
    XCTAssertEqual(
      multi.dispatch(VMExit(reason: .msrRead, instructionLength: 2), on: second), .resume)
    XCTAssertEqual(second.registers.edxEax, 0)
  }

  func testWriteUsesOnlyEDXAndEAX() {
    vcpu.registers.rcx = 0xC000_0084
    vcpu.registers.rax = 0xFFFF_FFFF_0000_0300
    vcpu.registers.rdx = 0xFFFF_FFFF_0000_0000
    XCTAssertEqual(machine.dispatch(VMExit(reason: .msrWrite, instructionLength: 2)), .resume)
    XCTAssertEqual(machine.guest.readStateMSR(0xC000_0084), 0x300)
  }
}
