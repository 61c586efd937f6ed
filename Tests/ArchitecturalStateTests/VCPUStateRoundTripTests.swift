import HypervisorCore
import SVM
import VMX
import XCTest

final class VCPUStateRoundTripTests: XCTestCase {
  // MARK: SVM

  private func throughSVM(_ state: VCPUArchitecturalState) -> VCPUArchitecturalState {
    let page = FakeVMCB()
    let vcpu = VirtualCPU(index: 0)
    SVMArchitecturalState.apply(state, to: page.vmcb, vcpu: vcpu)
    return SVMArchitecturalState.capture(vmcb: page.vmcb, vcpu: vcpu)
  }

  func testSVMRoundTripKeepsEveryField() {
    for state in [longModeState(), realModeState()] {
      let once = throughSVM(state)
      XCTAssertEqual(once, state)
      XCTAssertEqual(throughSVM(once), once)
    }
  }

  func testSVMApplyKeepsSVMEAndDefersLMEWithPagingOff() {
    let page = FakeVMCB()
    let vcpu = VirtualCPU(index: 0)
    SVMArchitecturalState.apply(realModeState(), to: page.vmcb, vcpu: vcpu)
    XCTAssertEqual(page.vmcb.u64(VMCBOffset.efer), 1 << 12, "VMCB EFER: SVME only")
    XCTAssertEqual(vcpu.deferredEFER, 0x100, "LME waits in the vCPU")
    XCTAssertEqual(page.vmcb[VMCBOffset.cpl, as: UInt8.self], 0)
    SVMArchitecturalState.apply(longModeState(), to: page.vmcb, vcpu: vcpu)
    XCTAssertEqual(page.vmcb.u64(VMCBOffset.efer), 0xD01 | 1 << 12)
    XCTAssertEqual(vcpu.deferredEFER, 0)
    XCTAssertEqual(page.vmcb[VMCBOffset.vmcbClean, as: UInt32.self], 0)
  }

  func testSVMCaptureFoldsAReinjectionIntoThePendingEvent() {
    let page = FakeVMCB()
    let vcpu = VirtualCPU(index: 0)
    var state = longModeState()
    state.pendingEvent = nil
    SVMArchitecturalState.apply(state, to: page.vmcb, vcpu: vcpu)
    page.vmcb.set(
      VMCBOffset.eventInjection,
      SVMEventInjection.encode(.exception(vector: 13, errorCode: 0x18)))
    XCTAssertEqual(
      SVMArchitecturalState.capture(vmcb: page.vmcb, vcpu: vcpu).pendingEvent,
      .exception(vector: 13, errorCode: 0x18))
  }

  /// The run loop single-steps the IRET that ends an NMI handler while a second NMI is held
  /// (RFLAGS.TF and the #DB intercept are the hypervisor's then): capture settles it, so
  /// the record has the guest's RFLAGS and NMIs blocked, and apply leaves #DB the guest's.
  func testSVMCaptureSettlesTheStepOverAnNMIHandlersIRET() {
    let page = FakeVMCB()
    let vcpu = VirtualCPU(index: 0)
    var state = longModeState()
    state.nmiBlocked = false
    state.registers.rflags = 0x246
    SVMArchitecturalState.apply(state, to: page.vmcb, vcpu: vcpu)
    vcpu.nmiBlocking.nmiInjected()
    vcpu.nmiBlocking.exited(rip: state.registers.rip, iret: true)
    XCTAssertTrue(vcpu.nmiBlocking.startStepOverIRET(nmiHeld: true, guestTrapFlag: false))
    vcpu.registers.rflags |= 1 << 8
    page.vmcb[VMCBOffset.interceptExceptions, as: UInt32.self] |= 1 << 1
    let captured = SVMArchitecturalState.capture(vmcb: page.vmcb, vcpu: vcpu)
    XCTAssertEqual(captured.registers.rflags, 0x246, "TF was the hypervisor's")
    XCTAssertTrue(captured.nmiBlocked)

    let other = VirtualCPU(index: 0)
    SVMArchitecturalState.apply(captured, to: page.vmcb, vcpu: other)
    XCTAssertEqual(page.vmcb[VMCBOffset.interceptExceptions, as: UInt32.self] & 1 << 1, 0)
    XCTAssertFalse(other.nmiBlocking.steppingOverIRET)
    XCTAssertTrue(other.nmiBlocking.wantsIRETIntercept, "the IRET exits again")

    // The guest's own TF (no step of the hypervisor's) is its state and stays.
    let guest = VirtualCPU(index: 0)
    state.registers.rflags = 0x346
    SVMArchitecturalState.apply(state, to: page.vmcb, vcpu: guest)
    XCTAssertEqual(
      SVMArchitecturalState.capture(vmcb: page.vmcb, vcpu: guest).registers.rflags, 0x346)
  }

  // MARK: VMX

  private func throughVMX(_ state: VCPUArchitecturalState) -> VCPUArchitecturalState {
    let vmcs = FakeVMCS(capabilities: skylakeCapabilities)
    let vcpu = VirtualCPU(index: 0)
    let unheld = VMXArchitecturalState.apply(
      state, to: vmcs, vcpu: vcpu, capabilities: skylakeCapabilities)
    return VMXArchitecturalState.capture(vmcs: vmcs, vcpu: vcpu, unheld: unheld)
  }

  func testVMXRoundTripKeepsEveryField() {
    for state in [longModeState(), realModeState()] {
      let once = throughVMX(state)
      XCTAssertEqual(once, state)
      XCTAssertEqual(throughVMX(once), once)
    }
  }

  func testVMXApplyFixesControlRegistersAndMarksNullSegmentsUnusable() {
    let vmcs = FakeVMCS(capabilities: skylakeCapabilities)
    let vcpu = VirtualCPU(index: 0)
    VMXArchitecturalState.apply(
      realModeState(), to: vmcs, vcpu: vcpu, capabilities: skylakeCapabilities)
    // Real mode: NE (bit 5) forced by CR0_FIXED0, PE and PG left free; VMXE in CR4.
    XCTAssertEqual(vmcs.read(.guestCR0), 0x30)
    XCTAssertEqual(vmcs.read(.cr0ReadShadow), 0x10)
    XCTAssertEqual(vmcs.read(.guestCR4), 0x2020)
    XCTAssertEqual(vmcs.read(.guestInterruptibility), 2, "blocking by MOV SS")
    XCTAssertEqual(
      vmcs.read(.entryControls) & UInt64(EntryControl.ia32eModeGuest.rawValue), 0)
    VMXArchitecturalState.apply(
      longModeState(), to: vmcs, vcpu: vcpu, capabilities: skylakeCapabilities)
    XCTAssertEqual(vmcs.read(.guestDSAccessRights), 1 << 16, "null DS is unusable")
    XCTAssertEqual(vmcs.read(.guestCSAccessRights), 0xA09B, "L and G at bits 13 and 15")
    XCTAssertEqual(vmcs.read(.guestInterruptibility), 1 | 8, "STI and NMI blocking")
    XCTAssertNotEqual(
      vmcs.read(.entryControls) & UInt64(EntryControl.ia32eModeGuest.rawValue), 0)
    XCTAssertEqual(vcpu.faultAddress, 0x7FFF_DEAD_B000)
  }

  func testVMXCaptureReadsHostOwnedBitsFromTheReadShadow() {
    let vmcs = FakeVMCS(capabilities: skylakeCapabilities)
    let vcpu = VirtualCPU(index: 0)
    vmcs.write(.guestCR0, 0x8005_0033)
    vmcs.write(.cr0ReadShadow, 0x8005_0013)  // the guest wrote NE = 0; VMX forces it
    vmcs.write(.guestCR4, 0x26A0)
    vmcs.write(.cr4ReadShadow, 0x06A0)
    let state = VMXArchitecturalState.capture(vmcs: vmcs, vcpu: vcpu, unheld: VMXUnheldState())
    XCTAssertEqual(state.cr4, 0x06A0, "VMXE is the host's")
    XCTAssertEqual(state.cr0, 0x8005_0013, "NE (forced, host-owned) as the guest wrote it")
  }

  func testVMXUnusableSegmentComesBackNotPresent() {
    XCTAssertFalse(VMXArchitecturalState.attributes(accessRights: 1 << 16 | 0x93).isPresent)
    XCTAssertEqual(
      VMXArchitecturalState.accessRights(SegmentAttributes(rawValue: 0x013)), 1 << 16 | 0x13)
    XCTAssertEqual(
      VMXArchitecturalState.accessRights(SegmentAttributes(rawValue: 0x00B), alwaysUsable: true),
      0x0B)
  }

  // MARK: Across vendors

  func testStateCapturedFromAVMCBMovesToAVMCSAndBack() {
    for state in [longModeState(), realModeState()] {
      let fromSVM = throughSVM(state)
      let onVMX = throughVMX(fromSVM)
      XCTAssertEqual(onVMX, fromSVM)
      XCTAssertEqual(throughSVM(onVMX), fromSVM)
    }
  }

  func testMovSSBlockingWithInterruptsEnabledBecomesSTIOnSVM() {
    var state = longModeState()
    state.interruptShadow = .movSS
    XCTAssertEqual(throughVMX(state).interruptShadow, .movSS)
    XCTAssertEqual(throughSVM(state).interruptShadow, .sti, "SVM keeps one shadow bit")
  }
}
