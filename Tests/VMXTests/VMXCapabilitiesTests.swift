import XCTest

@testable import VMX

/// IA32_VMX_BASIC, MISC and EPT_VPID_CAP fields (SDM 3C Appendix A.1, A.6, A.10) on the
/// Bochs corei7_skylake_x values.
final class VMXCapabilitiesTests: XCTestCase {
  let caps = BochsSkylake.capabilities

  func testBasicReportsRevisionRegionSizeAndTrueControls() {
    XCTAssertEqual(caps.revision, 0x2b)
    XCTAssertEqual(caps.vmcsRegionSize, 4096)
    XCTAssertEqual(caps.vmcsMemoryType, 6, "write-back")
    XCTAssertTrue(caps.reportsStringIOInformation)
    XCTAssertTrue(caps.usesTrueControls)
    XCTAssertFalse(caps.relaxesErrorCodeChecks)
  }

  func testRevisionExcludesBit31() {
    var other = caps
    other.basic = 0x8000_0001
    XCTAssertEqual(other.revision, 1)
  }

  func testTrueControlMSRsAreChosenWhenBit55IsSet() {
    XCTAssertEqual(caps.primaryProcessorCapability, BochsSkylake.trueProcBased)
    XCTAssertEqual(caps.exitCapability, BochsSkylake.trueExit)
    XCTAssertEqual(caps.entryCapability, BochsSkylake.trueEntry)
    XCTAssertEqual(caps.pinBasedCapability, BochsSkylake.truePinBased)
  }

  func testLegacyControlMSRsAreChosenWhenBit55IsClear() {
    var legacy = caps
    legacy.basic &= ~(1 << 55)
    XCTAssertFalse(legacy.usesTrueControls)
    XCTAssertEqual(legacy.primaryProcessorCapability, BochsSkylake.procBased)
    XCTAssertEqual(legacy.exitCapability, BochsSkylake.exit)
    XCTAssertEqual(legacy.entryCapability, BochsSkylake.entry)
  }

  func testSecondaryCapabilityNeedsActivateSecondaryControls() {
    XCTAssertEqual(caps.secondaryProcessorCapability, BochsSkylake.procBased2)
    var noSecondary = caps
    noSecondary.trueProcBased &= ~(UInt64(1) << 63)
    XCTAssertEqual(noSecondary.secondaryProcessorCapability, 0)
  }

  func testMisc() {
    XCTAssertEqual(caps.preemptionTimerRate, 0)
    XCTAssertTrue(caps.exitStoresLMA)
    XCTAssertTrue(caps.supportsHLTActivityState)
    XCTAssertTrue(caps.supportsShutdownActivityState)
    XCTAssertTrue(caps.supportsWaitForSIPIActivityState)
    XCTAssertEqual(caps.cr3TargetCount, 4)
    XCTAssertEqual(caps.maximumMSRListEntries, 512)
    XCTAssertTrue(caps.canWriteExitInformationFields)
    XCTAssertTrue(caps.allowsZeroLengthInjection)
  }

  func testEPTCapabilities() {
    XCTAssertTrue(caps.supportsExecuteOnly)
    XCTAssertTrue(caps.supports4Level)
    XCTAssertFalse(caps.supports5Level)
    XCTAssertTrue(caps.writeBackMemoryType)
    XCTAssertTrue(caps.uncacheableMemoryType)
    XCTAssertTrue(caps.pages2M)
    XCTAssertTrue(caps.pages1G)
    XCTAssertTrue(caps.invept)
    XCTAssertTrue(caps.inveptSingleContext)
    XCTAssertTrue(caps.inveptAllContexts)
    XCTAssertTrue(caps.accessedDirty)
    XCTAssertFalse(caps.advancedEPTViolationInformation)
  }

  func testVPIDCapabilities() {
    XCTAssertTrue(caps.invvpid)
    XCTAssertTrue(caps.invvpidIndividualAddress)
    XCTAssertTrue(caps.invvpidSingleContext)
    XCTAssertTrue(caps.invvpidAllContexts)
    XCTAssertTrue(caps.invvpidSingleContextRetainingGlobals)
  }

  func testReadGathersEveryMSRThatExists() {
    var read: [UInt32] = []
    let gathered = VMXCapabilities.read { index in
      read.append(index)
      return BochsSkylake.readMSR(index) ?? 0
    }
    XCTAssertEqual(gathered, caps)
    XCTAssertTrue(read.contains(0x48E), "TRUE_PROCBASED read because basic bit 55 is set")
    XCTAssertTrue(read.contains(0x48C), "EPT_VPID_CAP read because EPT can be enabled")
    XCTAssertFalse(read.contains(0x48A), "VMCS_ENUM is not needed")
  }

  func testReadSkipsMSRsThatDoNotExist() {
    var read: [UInt32] = []
    let gathered = VMXCapabilities.read { index in
      read.append(index)
      switch index {
      case 0x480: return BochsSkylake.basic & ~(1 << 55)
      case 0x482: return BochsSkylake.procBased & ~(UInt64(1) << 63)
      default: return BochsSkylake.readMSR(index) ?? 0
      }
    }
    XCTAssertFalse(read.contains { (0x48B...0x490).contains($0) }, "read \(read)")
    XCTAssertEqual(gathered.procBased2, 0)
    XCTAssertEqual(gathered.eptVPIDCap, 0)
    XCTAssertEqual(gathered.trueProcBased, 0)
  }
}
