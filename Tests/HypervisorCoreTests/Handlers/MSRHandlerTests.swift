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

  // MARK: TSC_AUX

  func testTSCAuxIsPerVCPUWithReservedHighBitsAndNeedsRDTSCPOrRDPID() {
    // Not offered (the machine's policy has no TSC_AUX): #GP on read and write.
    assertGeneralProtection(
      rdmsr(MSRPolicy.timeStampCounterAuxiliary), ripBefore: 0x1000, refused: 1)
    assertGeneralProtection(
      wrmsr(MSRPolicy.timeStampCounterAuxiliary, 1), ripBefore: 0x1000, refused: 2)
    machine.vm.msrPolicy.offerTimeStampCounterAuxiliary()
    XCTAssertEqual(rdmsr(MSRPolicy.timeStampCounterAuxiliary), .resume)
    XCTAssertEqual(vcpu.registers.edxEax, 0, "0 at reset")
    _ = vcpu.takeRequests()
    XCTAssertEqual(wrmsr(MSRPolicy.timeStampCounterAuxiliary, 0xFFFF_FFFF), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(vcpu.timeStampCounterAuxiliary, 0xFFFF_FFFF)
    XCTAssertTrue(vcpu.auxiliaryRegistersStale, "loaded into the processor before the next entry")
    XCTAssertTrue(vcpu.takeRequests().contains(.loadAuxiliaryRegisters))
    let rip = vcpu.registers.rip
    // Bits 63:32 reserved: #GP(0), the value kept.
    assertGeneralProtection(
      wrmsr(MSRPolicy.timeStampCounterAuxiliary, 1 << 32), ripBefore: rip, refused: 2 + 1)
    XCTAssertEqual(vcpu.timeStampCounterAuxiliary, 0xFFFF_FFFF)
    rdmsr(MSRPolicy.timeStampCounterAuxiliary)
    XCTAssertEqual(vcpu.registers.edxEax, 0xFFFF_FFFF)
  }

  func testPKRSIsPerVCPUWithReservedHighBitsAndNeedsPKS() {
    assertGeneralProtection(
      wrmsr(MSRPolicy.supervisorProtectionKeyRights, 4), ripBefore: 0x1000, refused: 1)
    machine.vm.msrPolicy.offerSupervisorProtectionKeyRights()
    _ = vcpu.takeRequests()
    XCTAssertEqual(wrmsr(MSRPolicy.supervisorProtectionKeyRights, 0xC000_0004), .resume)
    XCTAssertEqual(vcpu.supervisorProtectionKeyRights, 0xC000_0004)
    XCTAssertTrue(vcpu.takeRequests().contains(.loadAuxiliaryRegisters))
    let rip = vcpu.registers.rip
    assertGeneralProtection(
      wrmsr(MSRPolicy.supervisorProtectionKeyRights, 1 << 40), ripBefore: rip, refused: 2)
    rdmsr(MSRPolicy.supervisorProtectionKeyRights)
    XCTAssertEqual(vcpu.registers.edxEax, 0xC000_0004)
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
      vcpu.localAPIC = LocalAPICModel(id: UInt8(index), clock: NanosecondClock())
      vcpu.registers.rcx = UInt64(MSRPolicy.apicBase)
      XCTAssertEqual(
        multi.dispatch(VMExit(reason: .msrRead, instructionLength: 2), on: vcpu), .resume)
      let value = vcpu.registers.edxEax
      XCTAssertEqual(value & ~(1 << 8), 0xFEE0_0800, "default base, enabled")
      XCTAssertEqual(value & (1 << 8) != 0, index == 0, "BSP bit on vCPU \(index)")
    }
  }

  func testReadOnlyMSRRead() {
    rdmsr(0xFE)
    XCTAssertEqual(vcpu.registers.edxEax, 0, "MTRRcap: no fixed or variable MTRRs")
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
  }

  func testAPICBaseNeedsAModelledLocalAPIC() {
    assertGeneralProtection(rdmsr(MSRPolicy.apicBase), ripBefore: 0x1000, refused: 1)
    assertGeneralProtection(wrmsr(MSRPolicy.apicBase, 0xFEE0_0800), ripBefore: 0x1000, refused: 2)
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
    assertGeneralProtection(wrmsr(0x179, 0), ripBefore: 0x1000, refused: 2)
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
    // FFXSR and TCE only where the guest's CPUID offers them (not in the baseline); LMSLE
    // never (not virtualized).
    assertGeneralProtection(wrmsr(MSRPolicy.efer, 1 << 14 | 0xD01), ripBefore: 0x1000, refused: 5)
    assertGeneralProtection(wrmsr(MSRPolicy.efer, 1 << 13 | 0xD01), ripBefore: 0x1000, refused: 6)
    // Every other defined bit is accepted once offered.
    machine.vm.controlRegisterRules.allowedEFER |=
      ControlRegisterRules.ffxsr | ControlRegisterRules.tce
    XCTAssertEqual(wrmsr(MSRPolicy.efer, 0xCD01), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.readStateMSR(MSRPolicy.efer), 0xCD01)
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

  func testCanonicalWidthFollowsTheOfferedLA57() {
    // kvm-unit-tests' la57 and msr tests: 0xaaaa... never canonical; a 57-bit canonical
    // value only where CPUID offers LA57, whatever CR4.LA57 says.
    let canonical57: UInt64 = 0xFF45_4545_4545_4545
    assertGeneralProtection(wrmsr(0xC000_0100, canonical57), ripBefore: 0x1000, refused: 1)
    machine.vm.controlRegisterRules.allowedCR4 |= ControlRegisterRules.la57
    XCTAssertEqual(wrmsr(0xC000_0100, canonical57), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(machine.guest.readStateMSR(0xC000_0100), canonical57)
    assertGeneralProtection(
      wrmsr(0xC000_0100, 0xAAAA_AAAA_AAAA_AAAA), ripBefore: vcpu.registers.rip, refused: 2)
    assertGeneralProtection(
      wrmsr(0xC000_0102, 0x0100_0000_0000_0000), ripBefore: vcpu.registers.rip, refused: 3)
  }

  /// IA32_APIC_BASE moves the vCPU's APIC page (SDM 3A §11.4.5; kvm-unit-tests' "apicbase:
  /// relocate apic"), and the address bits from MAXPHYADDR up #GP ("reserved physaddr
  /// bits"; the fixture's CPUID has no leaf 0x8000_0008, so 36 bits).
  func testAPICBaseMovesThePageAndRefusesBitsAboveMAXPHYADDR() {
    vcpu.localAPIC = LocalAPICModel(id: 0, clock: NanosecondClock())
    XCTAssertEqual(wrmsr(MSRPolicy.apicBase, 0xFEC0_0800), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
    rdmsr(MSRPolicy.apicBase)
    XCTAssertEqual(vcpu.registers.edxEax, 0xFEC0_0900)
    XCTAssertEqual(vcpu.localDevices.entry(for: 0xFEC0_0030)?.base, 0xFEC0_0000)
    XCTAssertNil(vcpu.localDevices.entry(for: 0xFEE0_0030))
    assertGeneralProtection(
      wrmsr(MSRPolicy.apicBase, 0xFEE0_0900 | 1 << 36), ripBefore: 0x1004, refused: 1)
    XCTAssertEqual(wrmsr(MSRPolicy.apicBase, 0xFEE0_0900 | 1 << 35), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(vcpu.localDevices.entry(for: 0x8_FEE0_0030)?.base, 0x8_FEE0_0000)
    XCTAssertEqual(wrmsr(MSRPolicy.apicBase, 0xFEE0_0900), .resume)
    rdmsr(MSRPolicy.apicBase)
    XCTAssertEqual(vcpu.registers.edxEax, 0xFEE0_0900)
    // EXTD (10) without EN (11) is the invalid state (SDM 3A Table 11-5); bit 9 is reserved.
    let rip = vcpu.registers.rip
    assertGeneralProtection(wrmsr(MSRPolicy.apicBase, 0xFEE0_0400), ripBefore: rip, refused: 2)
    assertGeneralProtection(wrmsr(MSRPolicy.apicBase, 0xFEE0_0A00), ripBefore: rip, refused: 3)
  }

  func testShadowedMSRReadsBackWhatWasWritten() {
    rdmsr(MSRPolicy.mtrrDefaultType)
    XCTAssertEqual(vcpu.registers.edxEax, 0x806, "initial value: enabled, write-back")
    XCTAssertEqual(wrmsr(MSRPolicy.mtrrDefaultType, 0), .resume)
    rdmsr(MSRPolicy.mtrrDefaultType)
    XCTAssertEqual(vcpu.registers.edxEax, 0)
    wrmsr(MSRPolicy.mtrrDefaultType, 0xC04)
    rdmsr(MSRPolicy.mtrrDefaultType)
    XCTAssertEqual(vcpu.registers.edxEax, 0xC04)
    XCTAssertEqual(vcpu.shadowMSRs.count, 1, "one slot, rewritten")
    XCTAssertTrue(machine.guest.msrWriteLog.isEmpty, "shadowed MSRs never reach the vendor state")
  }

  func testShadowedMSRsArePerVCPU() {
    let multi = makeMachine(cpus: 2)
    let first = multi.vm.vcpus[0]
    first.registers.rcx = UInt64(MSRPolicy.mtrrDefaultType)
    first.registers.edxEax = 0
    XCTAssertEqual(
      multi.dispatch(VMExit(reason: .msrWrite, instructionLength: 2), on: first), .resume)
    let second = multi.vm.vcpus[1]
    second.registers.rcx = UInt64(MSRPolicy.mtrrDefaultType)
    XCTAssertEqual(
      multi.dispatch(VMExit(reason: .msrRead, instructionLength: 2), on: second), .resume)
    XCTAssertEqual(second.registers.edxEax, 0x806)
  }

  func testWriteUsesOnlyEDXAndEAX() {
    vcpu.registers.rcx = 0xC000_0084
    vcpu.registers.rax = 0xFFFF_FFFF_0000_0300
    vcpu.registers.rdx = 0xFFFF_FFFF_0000_0000
    XCTAssertEqual(machine.dispatch(VMExit(reason: .msrWrite, instructionLength: 2)), .resume)
    XCTAssertEqual(machine.guest.readStateMSR(0xC000_0084), 0x300)
  }

  // MARK: Time-stamp counter

  /// A local APIC in TSC-deadline mode whose clock is the fake host TSC.
  private func deadlineAPIC(on vcpu: VirtualCPU) -> (LocalAPICModel, NanosecondClock) {
    let clock = NanosecondClock()
    clock.now = machine.guest.timeStampCounter
    let apic = LocalAPICModel(id: UInt8(vcpu.index), clock: clock)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)  // software enable
    _ = apic.write(offset: 0x320, size: 4, value: 2 << 17 | 0x40)  // TSC-deadline, vector 0x40
    vcpu.localAPIC = apic
    return (apic, clock)
  }

  func testTimeStampCounterWriteSetsTheGuestsCounter() {
    XCTAssertEqual(wrmsr(MSRPolicy.timeStampCounter, 0x10_0000), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(vcpu.registers.rip, 0x1002)
    XCTAssertEqual(machine.guest.guestTimeStampCounter(), 0x10_0000, "reads the written value now")
    XCTAssertEqual(
      machine.guest.tscOffset, 0x10_0000 &- 0x1234_5678_9ABC_DEF0, "through the offset, wrapping")
    machine.guest.timeStampCounter += 500  // the host counter runs on
    rdmsr(MSRPolicy.timeStampCounter)
    XCTAssertEqual(vcpu.registers.edxEax, 0x10_0000 + 500, "and counts on from it")
  }

  func testTimeStampCounterWriteIsPerVCPU() {
    // Each vCPU has its own guest state (VMCB or VMCS) and so its own offset: the handler
    // changes only the state of the vCPU that wrote.
    let multi = makeMachine(cpus: 2)
    var states = [FakeGuestState(), FakeGuestState()]
    let second = multi.vm.vcpus[1]
    second.registers.rcx = UInt64(MSRPolicy.timeStampCounter)
    second.registers.edxEax = 42
    XCTAssertEqual(
      MSRHandler.write(
        VMExit(reason: .msrWrite, instructionLength: 2), vcpu: second, vm: multi.vm,
        guest: &states[1]), .resume)
    XCTAssertEqual(states[1].guestTimeStampCounter(), 42)
    XCTAssertEqual(states[0].tscOffset, 0, "vCPU 0's TSC is untouched")
  }

  func testTSCDeadlineIsInGuestTSCUnitsAfterATSCWrite() {
    let (apic, clock) = deadlineAPIC(on: vcpu)
    let host = machine.guest.timeStampCounter
    wrmsr(MSRPolicy.timeStampCounter, 1_000)  // the guest's TSC now reads 1000
    XCTAssertEqual(wrmsr(MSRPolicy.tscDeadline, 1_300), .resume)
    XCTAssertEqual(apic.deadline, host + 300, "armed 300 ticks ahead on the host clock")
    rdmsr(MSRPolicy.tscDeadline)
    XCTAssertEqual(vcpu.registers.edxEax, 1_300, "reads back in guest TSC units")
    clock.now = host + 299
    XCTAssertFalse(apic.pollTimer())
    clock.now = host + 300
    XCTAssertTrue(apic.pollTimer(), "fires when the guest's TSC reaches the deadline")
  }

  func testTSCDeadlineInThePastFiresAtOnceWhateverTheOffset() {
    let (apic, _) = deadlineAPIC(on: vcpu)
    wrmsr(MSRPolicy.timeStampCounter, 0xF000_0000_0000_0000)  // far above the host TSC
    wrmsr(MSRPolicy.tscDeadline, 5)  // long past for the guest
    XCTAssertEqual(apic.deadline, machine.guest.timeStampCounter, "due now, not wrapped away")
    XCTAssertTrue(apic.pollTimer())
  }

  func testTSCWriteKeepsAnArmedDeadlineAtTheSameGuestTSC() {
    let (apic, _) = deadlineAPIC(on: vcpu)
    let host = machine.guest.timeStampCounter
    wrmsr(MSRPolicy.tscDeadline, host + 1_000)  // offset 0: guest and host agree
    XCTAssertEqual(apic.deadline, host + 1_000)
    wrmsr(MSRPolicy.timeStampCounter, host + 600)  // the guest moves its TSC 600 ahead
    XCTAssertEqual(apic.deadline, host + 400, "400 guest ticks remain")
    rdmsr(MSRPolicy.tscDeadline)
    XCTAssertEqual(vcpu.registers.edxEax, host + 1_000)
  }

  // MARK: Vendor MSRs

  private func use(_ vendor: CPUFeatures.Vendor) {
    machine.vm.msrPolicy = MSRPolicy(vendor: vendor)
  }

  func testMiscEnableOnBothVendorsStoresItsWritableBits() {
    for vendor: CPUFeatures.Vendor in [.intel, .amd] {
      use(vendor)
      vcpu.shadowMSRs = []
      rdmsr(MSRPolicy.miscEnable)
      XCTAssertEqual(vcpu.registers.edxEax, 0x1801, "fast strings; BTS and PEBS unavailable")
      // kvm-unit-tests' msr test: 0x400c50809 with bits 7, 11 and 12 kept from the read.
      let written: UInt64 = 0x4_00C5_0009 | 0x1800
      XCTAssertEqual(wrmsr(MSRPolicy.miscEnable, written), .resume)
      XCTAssertNil(vcpu.pendingEvent, "\(vendor): the SDM's writable bits are stored")
      rdmsr(MSRPolicy.miscEnable)
      XCTAssertEqual(vcpu.registers.edxEax, written)
      XCTAssertEqual(wrmsr(MSRPolicy.miscEnable, 0x1800), .resume)
      XCTAssertNil(vcpu.pendingEvent, "fast strings may be turned off")
    }
    // Reserved (1, 35) and read-only (7, 11) bits.
    let refusedBefore = vcpu.statistics.refusedMSRAccesses
    var refused = refusedBefore
    for value: UInt64 in [0x1802, 0x1800 | 1 << 35, 0x1880, 0x1000] {
      refused += 1
      assertGeneralProtection(
        wrmsr(MSRPolicy.miscEnable, value), ripBefore: vcpu.registers.rip, refused: refused)
    }
  }

  func testIntelOnlyAndAMDOnlyMSRs() {
    use(.amd)
    assertGeneralProtection(rdmsr(0x3A), ripBefore: 0x1000, refused: 1)
    use(.intel)
    rdmsr(0x3A)
    XCTAssertEqual(vcpu.registers.edxEax, 1, "FEATURE_CONTROL locked, VMX off")
    assertGeneralProtection(wrmsr(0x3A, 5), ripBefore: 0x1002, refused: 2)
    assertGeneralProtection(rdmsr(0xC001_0000), ripBefore: 0x1002, refused: 3)
    assertGeneralProtection(rdmsr(0xC001_0015), ripBefore: 0x1002, refused: 4)
  }

  func testAMDPerformanceCountersReadZeroAndDropWrites() {
    use(.amd)
    for index: UInt32 in 0xC001_0000...0xC001_0007 {
      machine.vcpu.registers.rip = 0x1000
      XCTAssertEqual(wrmsr(index, 0x43_0076), .resume)
      XCTAssertNil(vcpu.pendingEvent, "PERF_CTL/CTR \(index) write accepted")
      rdmsr(index)
      XCTAssertNil(vcpu.pendingEvent)
      XCTAssertEqual(vcpu.registers.edxEax, 0, "PERF_CTL/CTR \(index) reads 0")
    }
    // The core-extension counters exist only with CPUID 8000_0001 ECX[23], which is hidden.
    var refused: UInt64 = 0
    for index: UInt32 in 0xC001_0200...0xC001_020B {
      machine.vcpu.registers.rip = 0x1000
      refused += 1
      assertGeneralProtection(rdmsr(index), ripBefore: 0x1000, refused: refused)
    }
  }

  func testPerformanceCapabilitiesIsAbsent() {
    // CPUID.1:ECX[15] PDCM is hidden, so IA32_PERF_CAPABILITIES does not exist.
    use(.intel)
    assertGeneralProtection(rdmsr(0x345), ripBefore: 0x1000, refused: 1)
  }

  func testAMDHardwareConfigurationAndVMCR() {
    use(.amd)
    rdmsr(0xC001_0015)
    XCTAssertEqual(vcpu.registers.edxEax, 1 << 24, "HWCR: TscFreqSel")
    XCTAssertEqual(wrmsr(0xC001_0015, 1 << 24 | 1 << 18), .resume)
    rdmsr(0xC001_0015)
    XCTAssertEqual(vcpu.registers.edxEax, 1 << 24 | 1 << 18, "McStatusWrEn stored")
    let rip = vcpu.registers.rip
    assertGeneralProtection(wrmsr(0xC001_0015, 1 << 30), ripBefore: rip, refused: 1)
    rdmsr(MSRPolicy.virtualMachineControl)
    XCTAssertEqual(vcpu.registers.edxEax, 0x18, "SVMDIS and LOCK")
    XCTAssertEqual(wrmsr(MSRPolicy.virtualMachineControl, 0), .resume, "LOCK: ignored")
    rdmsr(MSRPolicy.virtualMachineControl)
    XCTAssertEqual(vcpu.registers.edxEax, 0x18)
    assertGeneralProtection(
      wrmsr(MSRPolicy.virtualMachineControl, 1 << 1), ripBefore: vcpu.registers.rip, refused: 2)
  }

  func testAMDNorthbridgeConfigurationKeepsOnlyExtendedConfigAccess() {
    // Linux reads NB_CFG and sets bit 46 on every AMD CPU of family 10h and later.
    use(.amd)
    rdmsr(0xC001_001F)
    XCTAssertEqual(vcpu.registers.edxEax, 0)
    XCTAssertEqual(wrmsr(0xC001_001F, 1 << 46), .resume)
    XCTAssertNil(vcpu.pendingEvent)
    rdmsr(0xC001_001F)
    XCTAssertEqual(vcpu.registers.edxEax, 1 << 46)
    assertGeneralProtection(wrmsr(0xC001_001F, 1), ripBefore: vcpu.registers.rip, refused: 1)
    use(.intel)
    assertGeneralProtection(rdmsr(0xC001_001F), ripBefore: vcpu.registers.rip, refused: 2)
  }

  func testMTRRDefaultTypeRefusesReservedBitsAndTypes() {
    assertGeneralProtection(wrmsr(MSRPolicy.mtrrDefaultType, 0x802), ripBefore: 0x1000, refused: 1)
    assertGeneralProtection(wrmsr(MSRPolicy.mtrrDefaultType, 0x807), ripBefore: 0x1000, refused: 2)
    assertGeneralProtection(wrmsr(MSRPolicy.mtrrDefaultType, 0x906), ripBefore: 0x1000, refused: 3)
    assertGeneralProtection(
      wrmsr(MSRPolicy.mtrrDefaultType, 1 << 12 | 0x806), ripBefore: 0x1000, refused: 4)
    rdmsr(MSRPolicy.mtrrDefaultType)
    XCTAssertEqual(vcpu.registers.edxEax, 0x806, "unchanged")
  }

  func testMachineCheckGlobalsWithNoBanks() {
    rdmsr(0x179)
    XCTAssertEqual(vcpu.registers.edxEax, 0, "MCG_CAP: no banks, no MCG_CTL")
    XCTAssertEqual(wrmsr(0x17A, 0x4), .resume, "MCG_STATUS.MCIP")
    rdmsr(0x17A)
    XCTAssertEqual(vcpu.registers.edxEax, 0x4)
    let rip = vcpu.registers.rip
    assertGeneralProtection(wrmsr(0x17A, 0x8), ripBefore: rip, refused: 1)
    assertGeneralProtection(rdmsr(0x17B), ripBefore: rip, refused: 2)
    assertGeneralProtection(rdmsr(0x400), ripBefore: rip, refused: 3)
  }

  func testDebugControlDropsLBRAndBTF() {
    XCTAssertEqual(wrmsr(MSRPolicy.debugControl, 0x3), .resume)
    rdmsr(MSRPolicy.debugControl)
    XCTAssertEqual(vcpu.registers.edxEax, 0)
    assertGeneralProtection(
      wrmsr(MSRPolicy.debugControl, 1 << 6), ripBefore: vcpu.registers.rip, refused: 1)
  }

  func testIntelEFERHasNoAMDBits() {
    use(.intel)
    for (count, bit) in [13, 14, 15].enumerated() {
      assertGeneralProtection(
        wrmsr(MSRPolicy.efer, 0xD01 | 1 << UInt64(bit)), ripBefore: 0x1000,
        refused: UInt64(count + 1))
    }
    XCTAssertEqual(wrmsr(MSRPolicy.efer, 0xD01), .resume)
  }
}
