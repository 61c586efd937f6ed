import HypervisorCore
import XCTest

/// SVM's virtual interrupt and the interrupt shadow (InterruptDelivery.interruptShadow):
/// QEMU's VMRUN drops the VMCB's shadow, so after an exit between STI and HLT an offered
/// interrupt was taken before the HLT, which then waited forever (docs/smp.md).
final class InterruptShadowTests: XCTestCase {
  /// The failure the flight recorder showed: a kick's exit at the HLT right after STI, with
  /// a vector to offer. The offer waits and the HLT is single-stepped first.
  func testAnOfferAfterAnExitInsideTheShadowWaitsForAStep() {
    let vcpu = VirtualCPU(index: 0)
    let decision = InterruptDelivery.interruptShadow(
      vcpu, shadow: true, exitRIP: 0x1140, rip: 0x1140, offering: true, guestTrapFlag: false)
    XCTAssertEqual(decision, .holdOffer)
    XCTAssertTrue(vcpu.nmiBlocking.steppingOverShadow)
    // The step's instruction exits again before its trap (the HLT): still held.
    XCTAssertEqual(
      InterruptDelivery.interruptShadow(
        vcpu, shadow: true, exitRIP: 0x1140, rip: 0x1140, offering: true, guestTrapFlag: true),
      .holdOffer)
  }

  /// The HLT completed by the hypervisor (RIP moved): the shadow is over, the wake-up
  /// interrupt is offered at once (else it would wait past the CLI after the HLT).
  func testAShadowWhoseInstructionWasCompletedIsOver() {
    let vcpu = VirtualCPU(index: 0)
    XCTAssertEqual(
      InterruptDelivery.interruptShadow(
        vcpu, shadow: true, exitRIP: 0x1140, rip: 0x1141, offering: true, guestTrapFlag: false),
      .over)
    XCTAssertFalse(vcpu.nmiBlocking.isStepping)
  }

  func testNoShadowOrNothingToOfferChangesNothing() {
    let vcpu = VirtualCPU(index: 0)
    XCTAssertEqual(
      InterruptDelivery.interruptShadow(
        vcpu, shadow: false, exitRIP: 0x1140, rip: 0x1140, offering: true, guestTrapFlag: false),
      .none)
    XCTAssertEqual(
      InterruptDelivery.interruptShadow(
        vcpu, shadow: true, exitRIP: 0x1140, rip: 0x1140, offering: false, guestTrapFlag: false),
      .none)
    XCTAssertFalse(vcpu.nmiBlocking.isStepping)
  }

  /// The guest single-steps itself: TF is its own, so no step is started and the offer is
  /// made as before.
  func testAGuestThatStepsItselfIsNotStepped() {
    let vcpu = VirtualCPU(index: 0)
    XCTAssertEqual(
      InterruptDelivery.interruptShadow(
        vcpu, shadow: true, exitRIP: 0x1140, rip: 0x1140, offering: true, guestTrapFlag: true),
      .none)
    XCTAssertFalse(vcpu.nmiBlocking.isStepping)
  }
}
