import HypervisorCore
import XCTest

@testable import VMX

/// Peregrine's default control plan on Bochs and on processors that lack parts of it.
final class VMXControlPlanTests: XCTestCase {
  let caps = BochsSkylake.capabilities

  func testBochsGrantsTheWholePlan() {
    let plan = VMXControlPlan.peregrineDefault(caps: caps)
    XCTAssertEqual(strings(plan.allUnavailable), [])
    XCTAssertEqual(plan.pin.value, 0x16 | 0x01 | 0x08 | 0x20)
    // Default1 bits, then TSC offsetting, HLT, MWAIT, RDPMC, CR8 load and store exiting,
    // I/O bitmaps, MSR bitmaps, MONITOR exiting, secondary controls.
    let primary: UInt32 =
      0x0400_6172 | 0x08 | 0x80 | 0x400 | 0x800 | 0x0008_0000 | 0x0010_0000 | 0x0200_0000
    XCTAssertEqual(plan.primary.value, primary | 0x1000_0000 | 0x2000_0000 | 0x8000_0000)
    XCTAssertEqual(plan.secondary.value, 0x02 | 0x20 | 0x80)
    XCTAssertEqual(plan.exit.value, 0x0003_6DFB | 0x200 | 0x8000 | 0x003C_0000)
    XCTAssertEqual(plan.entry.value, 0x11FB | 0x4000 | 0x8000)
  }

  /// MONITOR, MWAIT and RDPMC exit (SDM 3C §25.6.2): CPUID offers neither MONITOR nor
  /// performance counters, so they must not run natively. MOV CR8 exits: without a TPR
  /// shadow it would reach the host's own TPR.
  func testHiddenInstructionsExit() {
    let plan = VMXControlPlan.peregrineDefault(caps: caps)
    for control in [
      PrimaryProcessorControl.monitorExiting, .mwaitExiting, .rdpmcExiting, .cr8LoadExiting,
      .cr8StoreExiting,
    ] {
      XCTAssertTrue(plan.primary.contains(control.rawValue), "\(control)")
    }
  }

  /// With "enable RDTSCP" 0, RDTSCP and RDPID raise #UD; with "enable INVPCID" 0, INVPCID
  /// does (SDM 3C §25.6.2). Both follow the guest's CPUID (RDTSCP: RDTSCP or RDPID offered).
  func testRDTSCPAndINVPCIDFollowTheCPUIDPolicy() {
    let hidden = VMXControlPlan.peregrineDefault(caps: caps)
    XCTAssertFalse(hidden.secondary.contains(SecondaryProcessorControl.enableRDTSCP.rawValue))
    XCTAssertFalse(hidden.secondary.contains(SecondaryProcessorControl.enableINVPCID.rawValue))
    let offered = VMXControlPlan.peregrineDefault(caps: caps, offersINVPCID: true)
    XCTAssertFalse(offered.secondary.contains(SecondaryProcessorControl.enableRDTSCP.rawValue))
    XCTAssertTrue(offered.secondary.contains(SecondaryProcessorControl.enableINVPCID.rawValue))
    XCTAssertEqual(strings(offered.allUnavailable), [])
    let rdtscp = VMXControlPlan.peregrineDefault(caps: caps, offersRDTSCP: true)
    XCTAssertTrue(rdtscp.secondary.contains(SecondaryProcessorControl.enableRDTSCP.rawValue))
    XCTAssertFalse(rdtscp.secondary.contains(SecondaryProcessorControl.enableINVPCID.rawValue))
    XCTAssertEqual(strings(rdtscp.allUnavailable), [])
  }

  /// A processor without "enable RDTSCP" or "enable INVPCID": the guest's CPUID must not offer
  /// what would #UD, so the plan names them to withhold; granted ones are not withheld.
  func testMissingRDTSCPAndINVPCIDControlsAreWithheldFromCPUID() {
    let granted = VMXControlPlan.peregrineDefault(
      caps: caps, offersINVPCID: true, offersRDTSCP: true)
    XCTAssertEqual(granted.cpuidWithholding(offersRDTSCP: true, offersINVPCID: true), .none)
    var synthetic = caps
    let missing =
      SecondaryProcessorControl.enableRDTSCP.rawValue
      | SecondaryProcessorControl.enableINVPCID.rawValue
    synthetic.procBased2 &= ~(UInt64(missing) << 32)
    let plan = VMXControlPlan.peregrineDefault(
      caps: synthetic, offersINVPCID: true, offersRDTSCP: true)
    XCTAssertEqual(Set(strings(plan.allUnavailable)), ["RDTSCP", "INVPCID"])
    let withheld = plan.cpuidWithholding(offersRDTSCP: true, offersINVPCID: true)
    XCTAssertEqual(
      withheld, CPUIDWithholding(timeStampCounterAuxiliary: true, invalidatePCID: true))
    // Not offered by the host: nothing to withhold.
    XCTAssertEqual(plan.cpuidWithholding(offersRDTSCP: false, offersINVPCID: false), .none)
    let all = CPUIDLeaf(eax: ~0, ebx: ~0, ecx: ~0, edx: ~0)
    let extended = withheld.filter(leaf: 0x8000_0001, subleaf: 0, host: all)
    XCTAssertEqual(extended.edx, ~UInt32(1 << 27))
    XCTAssertEqual(extended.ecx, ~0)
    let leaf7 = withheld.filter(leaf: 7, subleaf: 0, host: all)
    XCTAssertEqual(leaf7.ebx, ~UInt32(1 << 10))
    XCTAssertEqual(leaf7.ecx, ~UInt32(1 << 22))
    XCTAssertEqual(withheld.filter(leaf: 7, subleaf: 1, host: all), all)
    XCTAssertEqual(withheld.filter(leaf: 1, subleaf: 0, host: all), all)
  }

  func testPlanLeavesIA32eModeGuestToEntryTime() {
    let plan = VMXControlPlan.peregrineDefault(caps: caps)
    XCTAssertFalse(plan.entry.contains(EntryControl.ia32eModeGuest.rawValue))
  }

  func testMissingVPIDIsReportedByName() {
    var synthetic = caps
    synthetic.procBased2 &= ~(UInt64(SecondaryProcessorControl.enableVPID.rawValue) << 32)
    let plan = VMXControlPlan.peregrineDefault(caps: synthetic)
    XCTAssertEqual(strings(plan.allUnavailable), ["VPID"])
    XCTAssertFalse(plan.secondary.contains(SecondaryProcessorControl.enableVPID.rawValue))
  }

  func testMissingUnrestrictedGuestIsReportedByName() {
    var synthetic = caps
    synthetic.procBased2 &= ~(UInt64(SecondaryProcessorControl.unrestrictedGuest.rawValue) << 32)
    let plan = VMXControlPlan.peregrineDefault(caps: synthetic)
    XCTAssertEqual(strings(plan.allUnavailable), ["unrestricted guest"])
  }

  func testUnrestrictedGuestIsDroppedWithEPT() {
    var synthetic = caps
    synthetic.procBased2 &= ~(UInt64(SecondaryProcessorControl.enableEPT.rawValue) << 32)
    let plan = VMXControlPlan.peregrineDefault(caps: synthetic)
    XCTAssertEqual(strings(plan.secondary.unavailable), ["EPT", "unrestricted guest"])
    XCTAssertFalse(plan.secondary.contains(SecondaryProcessorControl.unrestrictedGuest.rawValue))
  }

  func testWithoutSecondaryControlsEverySecondaryIsUnavailable() {
    var synthetic = caps
    synthetic.trueProcBased &= ~(UInt64(1) << 63)
    let plan = VMXControlPlan.peregrineDefault(caps: synthetic, offersINVPCID: true)
    XCTAssertEqual(plan.secondary.value, 0)
    XCTAssertEqual(strings(plan.primary.unavailable), ["secondary controls"])
    XCTAssertEqual(
      strings(plan.secondary.unavailable), ["EPT", "VPID", "unrestricted guest", "INVPCID"])
  }

  func testUnconditionalIOExitingStandsInForIOBitmaps() {
    var synthetic = caps
    synthetic.trueProcBased &= ~(UInt64(PrimaryProcessorControl.useIOBitmaps.rawValue) << 32)
    let plan = VMXControlPlan.peregrineDefault(caps: synthetic)
    XCTAssertTrue(plan.primary.contains(PrimaryProcessorControl.unconditionalIOExiting.rawValue))
    XCTAssertFalse(plan.primary.contains(PrimaryProcessorControl.useIOBitmaps.rawValue))
    XCTAssertTrue(plan.primary.isComplete)
  }

  func testUnavailableListsAreConcatenatedInControlOrder() {
    var synthetic = caps
    synthetic.truePinBased &= ~(UInt64(PinBasedControl.nmiExiting.rawValue) << 32)
    synthetic.trueExit &= ~(UInt64(ExitControl.loadEFER.rawValue) << 32)
    synthetic.trueEntry &= ~(UInt64(EntryControl.loadPAT.rawValue) << 32)
    let plan = VMXControlPlan.peregrineDefault(caps: synthetic)
    XCTAssertEqual(
      strings(plan.allUnavailable),
      ["NMI exiting", "load IA32_EFER on exit", "load IA32_PAT on entry"])
  }
}
