import XCTest

@testable import VMX

/// Control words from capability MSRs (SDM 3C Appendix A.3–A.5): allowed-0 bits forced on,
/// allowed-1 bits masking, refusals named.
final class VMXControlsTests: XCTestCase {
  let caps = BochsSkylake.capabilities

  func testResolveForcesMustBeOneBitsAndMasksAllowedOne() {
    let capability: UInt64 = 0x0000_00F1_0000_0011
    let resolution = VMXControls.resolve(requested: 0x0000_0120, capability: capability) { _ in
      "bit"
    }
    XCTAssertEqual(resolution.value, 0x31, "0x20 kept, 0x11 forced on, 0x100 masked off")
    XCTAssertEqual(resolution.unavailable.count, 1, "0x100 is not allowed to be 1")
  }

  func testResolveNamesRefusedBitsInBitOrder() {
    let resolution = VMXControls.resolve(requested: 0x8000_0006, capability: 0) { bit in
      switch bit {
      case 0x2: return "two"
      case 0x4: return "four"
      case 0x8000_0000: return "thirty-one"
      default: return "other"
      }
    }
    XCTAssertEqual(resolution.value, 0)
    XCTAssertEqual(strings(resolution.unavailable), ["two", "four", "thirty-one"])
    XCTAssertFalse(resolution.isComplete)
  }

  func testPrimaryMustBeOneBitsFromTrueMSR() {
    let resolution = VMXControls.primaryProcessorBased([], caps: caps)
    XCTAssertEqual(resolution.value, 0x0400_6172)
    XCTAssertTrue(resolution.isComplete)
  }

  func testPrimaryWithoutTrueControlsForcesCR3Exiting() {
    var legacy = caps
    legacy.basic &= ~(1 << 55)
    let resolution = VMXControls.primaryProcessorBased([], caps: legacy)
    XCTAssertEqual(resolution.value, 0x0401_E172)
    XCTAssertTrue(resolution.contains(PrimaryProcessorControl.cr3LoadExiting.rawValue))
    XCTAssertTrue(resolution.contains(PrimaryProcessorControl.cr3StoreExiting.rawValue))
  }

  func testBochsHasNoMonitorTrapFlag() {
    let resolution = VMXControls.primaryProcessorBased([.monitorTrapFlag, .hltExiting], caps: caps)
    XCTAssertEqual(strings(resolution.unavailable), ["monitor trap flag"])
    XCTAssertFalse(resolution.contains(PrimaryProcessorControl.monitorTrapFlag.rawValue))
    XCTAssertTrue(resolution.contains(PrimaryProcessorControl.hltExiting.rawValue))
  }

  func testPinBasedPostedInterruptsUnavailable() {
    let resolution = VMXControls.pinBased([.nmiExiting, .postedInterrupts], caps: caps)
    XCTAssertEqual(strings(resolution.unavailable), ["posted interrupts"])
    XCTAssertEqual(resolution.value, 0x16 | 0x08)
  }

  func testExitAndEntryMustBeOneBits() {
    XCTAssertEqual(VMXControls.vmExit([], caps: caps).value, 0x0003_6DFB)
    XCTAssertEqual(VMXControls.vmEntry([], caps: caps).value, 0x0000_11FB)
    let entry = VMXControls.vmEntry([.loadEFER, .ia32eModeGuest], caps: caps)
    XCTAssertEqual(entry.value, 0x11FB | 0x8000 | 0x200)
    XCTAssertTrue(entry.isComplete)
  }

  func testSecondaryHasNoMustBeOneBits() {
    let resolution = VMXControls.secondaryProcessorBased([.enableEPT, .useTSCScaling], caps: caps)
    XCTAssertEqual(resolution.value, 0x0200_0002)
    XCTAssertTrue(resolution.isComplete)
  }

  func testSyntheticCapabilityWithoutUnrestrictedGuestNamesIt() {
    var synthetic = caps
    synthetic.procBased2 &= ~(UInt64(SecondaryProcessorControl.unrestrictedGuest.rawValue) << 32)
    let resolution = VMXControls.secondaryProcessorBased(
      [.enableEPT, .enableVPID, .unrestrictedGuest], caps: synthetic)
    XCTAssertEqual(strings(resolution.unavailable), ["unrestricted guest"])
    XCTAssertEqual(resolution.value, 0x22)
  }

  func testSyntheticCapabilityWithoutVPIDNamesIt() {
    var synthetic = caps
    synthetic.procBased2 &= ~(UInt64(SecondaryProcessorControl.enableVPID.rawValue) << 32)
    let resolution = VMXControls.secondaryProcessorBased(
      [.enableEPT, .enableVPID, .unrestrictedGuest], caps: synthetic)
    XCTAssertEqual(strings(resolution.unavailable), ["VPID"])
    XCTAssertEqual(resolution.value, 0x82)
  }

  func testControlNamesAreDefinedForEveryCaseAndReservedBits() {
    XCTAssertEqual("\(SecondaryProcessorControl.name(ofBit: 0x80))", "unrestricted guest")
    XCTAssertEqual("\(PrimaryProcessorControl.name(ofBit: 0x1))", "reserved control")
    XCTAssertEqual(ExitControl.mask([.loadEFER, .saveEFER]), 0x0030_0000)
    for control in PinBasedControl.allCases {
      XCTAssertEqual(control.rawValue.nonzeroBitCount, 1)
    }
    for control in PrimaryProcessorControl.allCases {
      XCTAssertEqual(control.rawValue.nonzeroBitCount, 1)
    }
    for control in SecondaryProcessorControl.allCases {
      XCTAssertEqual(control.rawValue.nonzeroBitCount, 1)
    }
    for control in ExitControl.allCases {
      XCTAssertEqual(control.rawValue.nonzeroBitCount, 1)
    }
    for control in EntryControl.allCases {
      XCTAssertEqual(control.rawValue.nonzeroBitCount, 1)
    }
  }
}
