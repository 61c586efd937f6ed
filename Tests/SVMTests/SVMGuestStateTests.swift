import HypervisorCore
import SVM
import XCTest

final class SVMGuestStateTests: VMCBTestCase {
  private var page: VMCBPage!
  private var vmcb: VMCB { page.vmcb }
  private var state: SVMGuestState<FakeHost>!
  private var vcpu: VirtualCPU!

  private let efer = 0xC000_0080 as UInt32
  private let svme: UInt64 = 1 << 12
  private let lma: UInt64 = 1 << 10
  private let lme: UInt64 = 1 << 8
  private let nxe: UInt64 = 1 << 11

  override func setUp() {
    super.setUp()
    page = makePage()
    vcpu = VirtualCPU(index: 0)
    state = SVMGuestState<FakeHost>(vmcb: page.vmcb, vcpu: vcpu)
  }

  private func setCS(attributes: UInt16, base: UInt64 = 0) {
    vmcb.setSegment(
      VMCBOffset.cs, selector: 0x8, attributes: attributes, limit: 0xFFFF_FFFF, base: base)
  }

  // MARK: Mode

  func testRealMode() {
    vmcb.set(VMCBOffset.cr0, 0x10)
    vmcb.set(VMCBOffset.efer, svme)
    setCS(attributes: 0x9B, base: 0x7_C000)
    vmcb.setSegment(VMCBOffset.ds, selector: 0x100, attributes: 0x93, limit: 0xFFFF, base: 0x1000)
    vmcb.setSegment(
      VMCBOffset.es, selector: 0xB800, attributes: 0x93, limit: 0xFFFF, base: 0xB_8000)
    let mode = state.mode()
    XCTAssertEqual(mode.width, .real)
    XCTAssertEqual(mode.codeSegmentBase, 0x7_C000)
    XCTAssertEqual(mode.dataSegmentBase, 0x1000)
    XCTAssertEqual(mode.extraSegmentBase, 0xB_8000)
    XCTAssertEqual(mode.cr0, 0x10)
    XCTAssertEqual(mode.efer, svme)
    XCTAssertFalse(mode.pagingEnabled)
  }

  func testProtectedMode16And32() {
    vmcb.set(VMCBOffset.cr0, 0x11)
    setCS(attributes: 0x9B)  // D = 0
    XCTAssertEqual(state.mode().width, .protected16)
    setCS(attributes: 0xC9B)  // G | D/B
    XCTAssertEqual(state.mode().width, .protected32)
  }

  func testLongMode64() {
    vmcb.set(VMCBOffset.cr0, 0x8000_0011)
    vmcb.set(VMCBOffset.cr3, 0x7_0000)
    vmcb.set(VMCBOffset.cr4, 0x20)
    vmcb.set(VMCBOffset.efer, svme | lma | 1 << 8)
    setCS(attributes: 0xA9B)  // G | L
    let mode = state.mode()
    XCTAssertEqual(mode.width, .long64)
    XCTAssertEqual(mode.cr3, 0x7_0000)
    XCTAssertEqual(mode.cr4, 0x20)
    XCTAssertTrue(mode.pagingEnabled)
  }

  func testCompatibilityModeIsProtected() {
    vmcb.set(VMCBOffset.cr0, 0x8000_0011)
    vmcb.set(VMCBOffset.efer, svme | lma | 1 << 8)
    setCS(attributes: 0xC9B)  // L = 0, D = 1
    XCTAssertEqual(state.mode().width, .protected32)
  }

  func testLBitWithoutLMAIsNotLongMode() {
    vmcb.set(VMCBOffset.cr0, 0x11)
    vmcb.set(VMCBOffset.efer, svme | 1 << 8)  // LME only
    setCS(attributes: 0x29B)
    XCTAssertEqual(state.mode().width, .protected16)
  }

  func testPrivilegeLevelFromTheCPLByte() {
    XCTAssertEqual(state.privilegeLevel, 0)
    vmcb[VMCBOffset.cpl, as: UInt8.self] = 3
    XCTAssertEqual(state.privilegeLevel, 3)
  }

  func testInstructionFetchKey() {
    vmcb.set(VMCBOffset.cr0, 0x10)
    setCS(attributes: 0x9B, base: 0x1_0000)
    let unpaged = state.instructionFetchKey(rip: 0x0123)
    XCTAssertEqual(unpaged.linear, 0x1_0123)
    XCTAssertEqual(unpaged.addressSpace, InstructionFetchKey.unpaged)
    vmcb.set(VMCBOffset.cr0, 0x8000_0011)
    vmcb.set(VMCBOffset.cr3, 0x12_3000)
    setCS(attributes: 0xA9B, base: 0)
    let paged = state.instructionFetchKey(rip: 0xFFFF_8000_0000_1000)
    XCTAssertEqual(paged.linear, 0xFFFF_8000_0000_1000)
    XCTAssertEqual(paged.addressSpace, 0x12_3000)
  }

  // MARK: MSRs

  func testEFERReadHidesSVME() {
    vmcb.set(VMCBOffset.efer, svme | lma | 1 << 8 | 1 << 11 | 1)
    XCTAssertEqual(state.readStateMSR(efer), lma | 1 << 8 | 1 << 11 | 1)
  }

  func testEFERWriteKeepsSVMEAndTheCurrentLMA() {
    vmcb.set(VMCBOffset.cr0, 0x8000_0011)  // long mode: paging on
    vmcb.set(VMCBOffset.efer, svme | lma | 1 << 8)
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] = 0xFFFF_FFFF
    XCTAssertTrue(state.writeStateMSR(efer, 1 << 8 | 1 << 11))  // no LMA, no SVME in the value
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | lma | 1 << 8 | 1 << 11)
    XCTAssertEqual(
      vmcb[VMCBOffset.vmcbClean, as: UInt32.self], 0xFFFF_FFFF & ~(1 << 5), "CRx/EFER dirty")
    XCTAssertEqual(state.readStateMSR(efer), lma | 1 << 8 | 1 << 11)
  }

  func testEFERWriteCannotSetLMA() {
    vmcb.set(VMCBOffset.cr0, 0x8000_0011)
    vmcb.set(VMCBOffset.efer, svme)
    XCTAssertTrue(state.writeStateMSR(efer, lma | nxe))
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | nxe)
    vmcb.set(VMCBOffset.cr0, 0x11)
    XCTAssertTrue(state.writeStateMSR(efer, lma | lme))
    XCTAssertEqual(state.readStateMSR(efer), lme)
  }

  /// MOV to CR0 is intercepted: turning paging on with EFER.LME activates long mode (LMA),
  /// turning it off deactivates it, as the processor's own MOV would (APM §14.6.1).
  func testCR0PagingTogglesLMAWhenLMEIsSet() {
    vmcb.set(VMCBOffset.efer, svme)
    vmcb.set(VMCBOffset.cr0, 0x11)
    XCTAssertTrue(state.writeStateMSR(efer, lme))
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] = 0xFFFF_FFFF
    XCTAssertTrue(state.writeControlRegister(0, 0x8000_0011))
    XCTAssertEqual(vmcb.u64(VMCBOffset.cr0), 0x8000_0011)
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | lme | lma)
    XCTAssertEqual(vmcb[VMCBOffset.vmcbClean, as: UInt32.self], 0xFFFF_FFFF & ~(1 << 5))
    XCTAssertEqual(state.readStateMSR(efer), lme | lma)
    XCTAssertTrue(state.writeControlRegister(0, 0x11))
    XCTAssertEqual(state.readStateMSR(efer), lme, "LME kept, LMA clear")
  }

  // MARK: EFER.LME with paging off: held by the vCPU, not the VMCB (docs/hardening.md)

  /// QEMU 7.2 TCG's #VMEXIT cannot restore the host's CR0 from a VMCB with LME = 1,
  /// PG = 0, PAE = 0: the VMCB never holds LME while the guest's paging is off.
  func testLMEWrittenWithPagingOffStaysOutOfTheVMCB() {
    vmcb.set(VMCBOffset.cr0, 0x11)
    vmcb.set(VMCBOffset.efer, svme)
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] = 0xFFFF_FFFF
    XCTAssertTrue(state.writeStateMSR(efer, lme | nxe))
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | nxe, "VMCB: no LME, SVME kept")
    XCTAssertEqual(vcpu.deferredEFER, lme)
    XCTAssertEqual(vmcb[VMCBOffset.vmcbClean, as: UInt32.self], 0xFFFF_FFFF & ~(1 << 5))
    XCTAssertEqual(state.readStateMSR(efer), lme | nxe, "the guest reads what it wrote")
    XCTAssertTrue(state.writeStateMSR(efer, nxe))
    XCTAssertEqual(vcpu.deferredEFER, 0, "cleared again")
    XCTAssertEqual(state.readStateMSR(efer), nxe)
  }

  func testPagingOnMovesLMEIntoTheVMCBWithLMAAndOffMovesItBack() {
    vmcb.set(VMCBOffset.cr0, 0x11)
    vmcb.set(VMCBOffset.cr4, 0x20)
    vmcb.set(VMCBOffset.efer, svme)
    XCTAssertTrue(state.writeStateMSR(efer, lme | nxe))
    XCTAssertTrue(state.writeControlRegister(0, 0x8000_0011))
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | nxe | lme | lma)
    XCTAssertEqual(vcpu.deferredEFER, 0)
    XCTAssertTrue(state.writeControlRegister(0, 0x8005_0011), "WP: paging stays on")
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | nxe | lme | lma)
    XCTAssertTrue(state.writeControlRegister(0, 0x11))
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | nxe, "LME and LMA out of the VMCB")
    XCTAssertEqual(vcpu.deferredEFER, lme)
    XCTAssertTrue(state.writeControlRegister(0, 0x19), "TS: paging stays off")
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | nxe)
    XCTAssertEqual(vcpu.deferredEFER, lme)
    XCTAssertEqual(state.readStateMSR(efer), lme | nxe)
  }

  /// The VMCB's initial EFER (SVMGuest): SVME forced, LME deferred only with paging off;
  /// a guest started in long mode (Linux) is unaffected.
  func testSplitOfAnInitialEFER() {
    let long = SVMGuestState<FakeHost>.split(efer: lme | lma | nxe, cr0: 0x8000_0011)
    XCTAssertEqual(long.vmcb, svme | lme | lma | nxe)
    XCTAssertEqual(long.deferred, 0)
    let real = SVMGuestState<FakeHost>.split(efer: lme, cr0: 0x10)
    XCTAssertEqual(real.vmcb, svme)
    XCTAssertEqual(real.deferred, lme)
    XCTAssertEqual(SVMGuestState<FakeHost>.split(efer: 0, cr0: 0x10).vmcb, svme)
  }

  /// MOV CR0 setting PG with the deferred LME but CR4.PAE clear is #GP(0) (SDM 2B MOV CR,
  /// APM §14.6.1): the rules see the guest's LME, and nothing reaches the VMCB.
  func testPagingOnWithDeferredLMEButNoPAEIsGeneralProtection() {
    vmcb.set(VMCBOffset.cr0, 0x11)
    vmcb.set(VMCBOffset.efer, svme)
    setCS(attributes: 0xC9B)
    let vm = VirtualMachine(id: 1, profile: VMProfile(name: Array("svm".utf8)))
    let vcpu = vm.vcpus[0]
    var state = SVMGuestState<FakeHost>(vmcb: vmcb, vcpu: vcpu)
    XCTAssertTrue(state.writeStateMSR(efer, lme))
    vcpu.registers.rip = 0x1000
    vcpu.registers.rbx = 0x8000_0011
    let write = VMExit(
      reason: .controlRegisterAccess(
        ControlRegisterAccess(register: 0, kind: .write, generalRegister: 3)),
      instructionLength: 3)
    let outcome = ExitDispatcher.dispatch(
      write, vcpu: vcpu, vm: vm, guest: &state, console: DiscardingConsole())
    XCTAssertEqual(outcome, .resume)
    XCTAssertEqual(vcpu.pendingEvent, .exception(vector: 13, errorCode: 0))
    XCTAssertEqual(vmcb.u64(VMCBOffset.cr0), 0x11)
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme)
    XCTAssertEqual(vcpu.registers.rip, 0x1000)
    // With PAE the same write enters long mode.
    vcpu.pendingEvent = nil
    vmcb.set(VMCBOffset.cr4, 0x20)
    _ = ExitDispatcher.dispatch(
      write, vcpu: vcpu, vm: vm, guest: &state, console: DiscardingConsole())
    XCTAssertNil(vcpu.pendingEvent)
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | lme | lma)
    XCTAssertEqual(vcpu.registers.rip, 0x1003)
  }

  func testCR0PagingWithoutLMELeavesEFER() {
    vmcb.set(VMCBOffset.efer, svme)
    XCTAssertTrue(state.writeControlRegister(0, 0x8000_0011))
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme)
  }

  /// LME with paging off is legal and lands in the VMCB (the processor activates long mode
  /// when CR0.PG is set with PAE); changing it with paging on is #GP (false here).
  func testEFERLMEChangesOnlyWithPagingOff() {
    vmcb.set(VMCBOffset.cr0, 0x11)
    vmcb.set(VMCBOffset.efer, svme)
    XCTAssertTrue(state.writeStateMSR(efer, 1 << 8))
    XCTAssertEqual(state.readStateMSR(efer), 1 << 8, "LME set, LMA clear")
    XCTAssertTrue(state.writeStateMSR(efer, 0))
    vmcb.set(VMCBOffset.cr0, 0x8000_0011)  // 32-bit paging
    XCTAssertFalse(state.writeStateMSR(efer, 1 << 8), "setting LME with paging on")
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme, "nothing written")
    vmcb.set(VMCBOffset.efer, svme | lma | 1 << 8)  // long mode
    XCTAssertFalse(state.writeStateMSR(efer, 1 << 11), "clearing LME in long mode")
    XCTAssertTrue(state.writeStateMSR(efer, 1 << 8 | 1 << 11), "NXE with LME unchanged")
    XCTAssertEqual(vmcb.u64(VMCBOffset.efer), svme | lma | 1 << 8 | 1 << 11)
  }

  func testPATRoutingMarksNestedPagingDirty() {
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] = 0xFFFF_FFFF
    XCTAssertTrue(state.writeStateMSR(0x277, 0x0007_0406_0007_0406))
    XCTAssertEqual(vmcb.u64(0x668), 0x0007_0406_0007_0406)
    XCTAssertEqual(state.readStateMSR(0x277), 0x0007_0406_0007_0406)
    XCTAssertEqual(
      vmcb[VMCBOffset.vmcbClean, as: UInt32.self], 0xFFFF_FFFF & ~(1 << 4), "NP (gPAT) dirty")
  }

  func testStateMSRsLandAtTheirAPMOffsets() {
    let expected: [(UInt32, Int)] = [
      (0xC000_0081, 0x600), (0xC000_0082, 0x608), (0xC000_0083, 0x610), (0xC000_0084, 0x618),
      (0xC000_0100, 0x448), (0xC000_0101, 0x458), (0xC000_0102, 0x620),
      (0x174, 0x628), (0x175, 0x630), (0x176, 0x638),
    ]
    for (number, (index, offset)) in expected.enumerated() {
      let value = 0xFFFF_8000_0000_0000 | UInt64(number + 1) << 12
      XCTAssertTrue(state.writeStateMSR(index, value), "MSR \(index)")
      XCTAssertEqual(vmcb.u64(offset), value, "MSR \(index) at \(offset)")
      XCTAssertEqual(state.readStateMSR(index), value)
    }
    vmcb.set(0x440 + 8, 0x1234)
    XCTAssertEqual(state.readStateMSR(0xC000_0100), 0x1234, "FS.base is the FS segment's base")
  }

  func testMSRsNotInTheVMCB() {
    XCTAssertNil(state.readStateMSR(0x10))
    XCTAssertNil(state.readStateMSR(0x1B))
    let before = (0..<VMCBOffset.size / 8).map { vmcb.u64($0 * 8) }
    XCTAssertFalse(state.writeStateMSR(0x1B, 0xFEE0_0900))
    XCTAssertEqual((0..<VMCBOffset.size / 8).map { vmcb.u64($0 * 8) }, before, "nothing written")
  }

  // MARK: Host

  func testHostCPUIDAndTheGuestTSC() {
    XCTAssertEqual(
      state.hostCPUID(leaf: 7, subleaf: 1), CPUIDLeaf(eax: 7, ebx: 1, ecx: 0xC0FF_EE00, edx: 0x5EED)
    )
    XCTAssertEqual(state.guestTimeStampCounter(), FakeHost.tsc)
    vmcb.set(VMCBOffset.tscOffset, 500)
    XCTAssertEqual(state.guestTimeStampCounter(), FakeHost.tsc + 500)
    vmcb.set(VMCBOffset.tscOffset, 0 &- 400_000)
    XCTAssertEqual(state.guestTimeStampCounter(), FakeHost.tsc - 400_000, "a negative offset wraps")
  }

  func testWritingTheGuestTSCSetsTheOffsetAndDirtiesTheInterceptCleanBit() {
    vmcb[VMCBOffset.vmcbClean, as: UInt32.self] = 0xFFFF_FFFF
    var state = state!
    state.setGuestTimeStampCounter(FakeHost.tsc + 7_000)
    XCTAssertEqual(vmcb.u64(VMCBOffset.tscOffset), 7_000)
    XCTAssertEqual(state.timeStampCounterOffset, 7_000)
    XCTAssertEqual(state.guestTimeStampCounter(), FakeHost.tsc + 7_000)
    XCTAssertEqual(vmcb[VMCBOffset.vmcbClean, as: UInt32.self], 0xFFFF_FFFE, "clean bit 0 (I)")
    state.setGuestTimeStampCounter(0)
    XCTAssertEqual(vmcb.u64(VMCBOffset.tscOffset), 0 &- FakeHost.tsc, "below the host's: wraps")
    XCTAssertEqual(state.guestTimeStampCounter(), 0)
  }

  // MARK: Through the handlers

  func testRDMSROfEFERThroughTheDispatcherHidesSVME() {
    vmcb.set(VMCBOffset.efer, svme | lma | 1 << 8)
    let vm = VirtualMachine(id: 1, profile: VMProfile(name: Array("svm".utf8)))
    let vcpu = vm.vcpus[0]
    vcpu.registers.rcx = UInt64(efer)
    let outcome = ExitDispatcher.dispatch(
      VMExit(reason: .msrRead, instructionLength: 2), vcpu: vcpu, vm: vm, guest: &state,
      console: DiscardingConsole())
    XCTAssertEqual(outcome, .resume)
    XCTAssertEqual(vcpu.registers.edxEax, lma | 1 << 8)
  }
}
