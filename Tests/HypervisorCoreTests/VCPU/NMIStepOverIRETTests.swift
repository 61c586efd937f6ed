import XCTest

@testable import HypervisorCore

/// The step over the IRET that ends an NMI handler (SVM without V_NMI): a held NMI is
/// delivered right after that IRET, before the interrupted code runs on (kvm-unit-tests'
/// eventinj, whose nested NMI handler otherwise met a lock taken after the IRET).
final class NMIStepOverIRETTests: XCTestCase {
  private func atIRET() -> NMIBlocking {
    var blocking = NMIBlocking()
    blocking.nmiInjected()
    blocking.exited(rip: 0x2040, iret: true)
    return blocking
  }

  func testStepsOnlyAtAPendingIRETWithAnNMIHeld() {
    var blocking = NMIBlocking()
    XCTAssertFalse(blocking.startStepOverIRET(nmiHeld: true, guestTrapFlag: false), "open")
    blocking.nmiInjected()
    XCTAssertFalse(
      blocking.startStepOverIRET(nmiHeld: true, guestTrapFlag: false), "handler not at IRET")
    blocking = atIRET()
    XCTAssertFalse(blocking.startStepOverIRET(nmiHeld: false, guestTrapFlag: false))
    XCTAssertFalse(
      blocking.startStepOverIRET(nmiHeld: true, guestTrapFlag: true), "the guest steps itself")
    XCTAssertFalse(blocking.steppingOverIRET)
    XCTAssertTrue(blocking.startStepOverIRET(nmiHeld: true, guestTrapFlag: false))
    XCTAssertTrue(blocking.steppingOverIRET)
    XCTAssertFalse(
      blocking.startStepOverIRET(nmiHeld: true, guestTrapFlag: false), "already stepping")
  }

  func testTheTrapEndsTheStepAndTheNextExitOpensBlocking() {
    var blocking = atIRET()
    XCTAssertTrue(blocking.startStepOverIRET(nmiHeld: true, guestTrapFlag: false))
    XCTAssertTrue(blocking.debugTrapEndsStep(), "the hypervisor's own trap")
    XCTAssertFalse(blocking.steppingOverIRET)
    XCTAssertFalse(blocking.debugTrapEndsStep(), "a later #DB is the guest's")
    blocking.exited(rip: 0x1234, iret: false)  // the trap's RIP: after the IRET
    XCTAssertFalse(blocking.isBlocked)
  }

  /// kvm-unit-tests' test_sti_nmi: an NMI held only by an STI shadow steps the shadow's
  /// instruction, so the exit comes right after it instead of at the end of the slice.
  func testAnInterruptShadowHoldingAnNMIIsSteppedOver() {
    var blocking = NMIBlocking()
    XCTAssertFalse(
      blocking.startStepOverShadow(nmiHeld: true, interruptShadow: false, guestTrapFlag: false),
      "no shadow: the NMI is injected, nothing to step")
    XCTAssertFalse(
      blocking.startStepOverShadow(nmiHeld: false, interruptShadow: true, guestTrapFlag: false))
    XCTAssertFalse(
      blocking.startStepOverShadow(nmiHeld: true, interruptShadow: true, guestTrapFlag: true),
      "the guest steps itself")
    XCTAssertTrue(
      blocking.startStepOverShadow(nmiHeld: true, interruptShadow: true, guestTrapFlag: false))
    XCTAssertTrue(blocking.steppingOverShadow)
    XCTAssertTrue(blocking.isStepping)
    XCTAssertFalse(blocking.isBlocked, "NMIs stay open: only the shadow holds this one")
    XCTAssertFalse(
      blocking.startStepOverShadow(nmiHeld: true, interruptShadow: true, guestTrapFlag: false),
      "already stepping")
    XCTAssertTrue(blocking.debugTrapEndsStep())
    XCTAssertFalse(blocking.isStepping)
    XCTAssertFalse(blocking.debugTrapEndsStep(), "a later #DB is the guest's")
    // Inside an NMI handler the IRET decides, not the shadow.
    blocking.nmiInjected()
    XCTAssertFalse(
      blocking.startStepOverShadow(nmiHeld: true, interruptShadow: true, guestTrapFlag: false))
  }
}
