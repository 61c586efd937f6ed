import HypervisorCore
import XCTest

@testable import VMX

/// The CR0/CR4 guest/host masks (SDM 3C §25.6.6) on Bochs' fixed bits (CR4_FIXED0 0x2000,
/// CR4_FIXED1 0x3727FF): every bit the guest may not set is owned, so setting it exits
/// and gets #GP instead of reaching the processor.
final class VMXControlRegisterOwnershipTests: XCTestCase {
  let caps = BochsSkylake.capabilities
  /// What a Skylake guest is offered: the baseline bits, FSGSBASE, PCIDE, SMEP, SMAP, PKE.
  let rules = ControlRegisterRules(
    allowedCR4: ControlRegisterRules.baseline.allowedCR4 | ControlRegisterRules.fsgsbase
      | ControlRegisterRules.pcide | ControlRegisterRules.smep | ControlRegisterRules.smap
      | ControlRegisterRules.pke)

  func testRestrictingDropsWhatVMXCannotHoldAndVMXE() {
    let restricted = caps.restricting(
      ControlRegisterRules(allowedCR4: rules.allowedCR4 | ControlRegisterRules.vmxe))
    XCTAssertEqual(restricted.allowedCR4 & ControlRegisterRules.vmxe, 0)
    XCTAssertEqual(restricted.allowedCR4 & ControlRegisterRules.pke, 0, "CR4_FIXED1 bit 22 is 0")
    XCTAssertNotEqual(restricted.allowedCR4 & ControlRegisterRules.smep, 0)
  }

  func testCR4MaskOwnsEveryBitTheGuestMayNotSet() {
    let mask = caps.cr4GuestHostMask(for: rules)
    for bit in [
      ControlRegisterRules.vmxe, ControlRegisterRules.smxe, ControlRegisterRules.osxsave,
      ControlRegisterRules.la57, ControlRegisterRules.umip, ControlRegisterRules.pke, 1 << 31,
      1 << 32, 1 << 63,
    ] {
      XCTAssertNotEqual(mask & bit, 0, String(bit, radix: 16))
    }
  }

  func testCR4MaskLeavesOfferedBitsToTheGuest() {
    let mask = caps.cr4GuestHostMask(for: rules)
    for bit in [
      ControlRegisterRules.pae, ControlRegisterRules.pge, ControlRegisterRules.pce,
      ControlRegisterRules.osfxsr, ControlRegisterRules.smep, ControlRegisterRules.smap,
      ControlRegisterRules.fsgsbase, ControlRegisterRules.pcide,
    ] {
      XCTAssertEqual(mask & bit, 0, String(bit, radix: 16))
    }
  }

  func testCR0MaskOwnsNEAndTheReservedHighBitsButNotPEOrPG() {
    let mask = caps.cr0GuestHostMask
    XCTAssertEqual(mask, 0xFFFF_FFFF_0000_0020)
  }
}
