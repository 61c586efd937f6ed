import XCTest

@testable import VMX

/// CR0/CR4 fixed bits (SDM 3C Appendix A.7, A.8) and the unrestricted-guest exemption of
/// CR0.PE and CR0.PG (§27.3.1.1).
final class VMXFixedBitsTests: XCTestCase {
  let caps = BochsSkylake.capabilities

  func testFixed0ForcesBitsOnAndFixed1ForcesBitsOff() {
    XCTAssertEqual(VMXFixedBits.applyFixedBits(0x0, fixed0: 0x21, fixed1: 0xFF), 0x21)
    XCTAssertEqual(VMXFixedBits.applyFixedBits(0x1_0300, fixed0: 0, fixed1: 0xFFFF), 0x0300)
  }

  func testWithoutUnrestrictedGuestPEAndPGAreForced() {
    XCTAssertEqual(caps.fixingCR0(0x30), 0x8000_0031)
  }

  func testUnrestrictedGuestLeavesPEAndPGClear() {
    XCTAssertEqual(caps.fixingCR0(0x30, unrestrictedGuest: true), 0x30)
    XCTAssertEqual(caps.fixingCR0(0x10, unrestrictedGuest: true), 0x30, "NE is still forced")
    XCTAssertEqual(
      VMXFixedBits.applyUnrestrictedGuestCR0FixedBits(
        0x8000_0011, fixed0: 0x8000_0021, fixed1: 0xFFFF_FFFF),
      0x8000_0031, "PE and PG survive when the guest sets them")
  }

  func testCR4GetsVMXEAndLosesUnsupportedBits() {
    XCTAssertEqual(caps.fixingCR4(0), 0x2000)
    XCTAssertEqual(caps.fixingCR4(0x0080_0020), 0x2020, "bit 23 is not in CR4_FIXED1")
  }
}
