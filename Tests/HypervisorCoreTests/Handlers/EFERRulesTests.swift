import HypervisorCore
import XCTest

/// WRMSR EFER may not change LME while paging is on (APM Vol 2 §14.6.1, SDM 3A §10.8.5):
/// both backends refuse it with #GP, VMX included (its VM entry would fail otherwise).
final class EFERRulesTests: XCTestCase {
  private let lme = EFERRules.lme
  private let lma = EFERRules.lma
  private let nxe: UInt64 = 1 << 11

  func testLMEChangesFreelyWithPagingOff() {
    XCTAssertTrue(EFERRules.permits(lme, current: 0, cr0: 0x11))
    XCTAssertTrue(EFERRules.permits(0, current: lme, cr0: 0x10))
  }

  func testSettingLMEUnder32BitPagingIsRefused() {
    XCTAssertFalse(EFERRules.permits(lme, current: 0, cr0: 0x8000_0011))
  }

  func testClearingLMEInLongModeIsRefused() {
    XCTAssertFalse(EFERRules.permits(nxe, current: lme | lma, cr0: 0x8000_0011))
  }

  func testOtherBitsChangeWithPagingOn() {
    XCTAssertTrue(EFERRules.permits(lme | nxe, current: lme | lma, cr0: 0x8000_0011))
    XCTAssertTrue(EFERRules.permits(nxe, current: 0, cr0: 0x8000_0011))
  }
}
