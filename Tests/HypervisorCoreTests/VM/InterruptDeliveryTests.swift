import HypervisorCore
import XCTest

/// The vendor-neutral half of interrupt delivery: what both backends do before an entry.
final class InterruptDeliveryTests: XCTestCase {
  private let clock = NanosecondClock()

  private func vcpuWithAPIC() -> (VirtualCPU, LocalAPICModel) {
    let vcpu = VirtualCPU(index: 0)
    let apic = LocalAPICModel(id: 0, clock: clock)
    _ = apic.write(offset: 0xF0, size: 4, value: 0x1FF)  // software enable
    vcpu.localAPIC = apic
    return (vcpu, apic)
  }

  func testNothingToDoWithoutAnAPICOrARequest() {
    XCTAssertEqual(
      InterruptDelivery.prepare(VirtualCPU(index: 0), guestCanTakeInterrupt: true), .none)
    let (vcpu, _) = vcpuWithAPIC()
    XCTAssertEqual(InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: true), .none)
  }

  func testARequestIsInjectedAndAcknowledgedWhenTheGuestCanTakeIt() {
    let (vcpu, apic) = vcpuWithAPIC()
    apic.request(0x40)
    XCTAssertEqual(
      InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: true), .injected(vector: 0x40))
    XCTAssertEqual(vcpu.pendingEvent, .externalInterrupt(vector: 0x40))
    XCTAssertNil(apic.pendingVector, "moved to in-service: not delivered twice")
  }

  func testAClosedGuestOrAnotherEventAsksForAWindow() {
    let (vcpu, apic) = vcpuWithAPIC()
    apic.request(0x40)
    XCTAssertEqual(InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: false), .needsWindow)
    vcpu.pendingEvent = .generalProtection(0)
    XCTAssertEqual(InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: true), .needsWindow)
    XCTAssertEqual(vcpu.pendingEvent, .generalProtection(0), "the exception goes first")
    XCTAssertEqual(apic.pendingVector, 0x40, "still requested")
  }

  func testAnExpiredTimerWakesAHaltedVCPU() {
    let (vcpu, apic) = vcpuWithAPIC()
    _ = apic.write(offset: 0x3E0, size: 4, value: 0xB)  // divide by 1
    _ = apic.write(offset: 0x320, size: 4, value: 0x30)
    _ = apic.write(offset: 0x380, size: 4, value: 100)
    XCTAssertFalse(InterruptDelivery.shouldWake(vcpu))
    clock.now += 100
    XCTAssertTrue(InterruptDelivery.shouldWake(vcpu))
  }

  /// The local APIC page is the vCPU's own: each vCPU's accesses reach its own APIC.
  func testTheAPICPageIsLookedUpPerVCPU() throws {
    let (vcpu, apic) = vcpuWithAPIC()
    let entry = try XCTUnwrap(vcpu.localDevices.entry(for: LocalAPICModel.base + 0x20))
    XCTAssertTrue(entry.device === apic)
    XCTAssertNil(VirtualCPU(index: 1).localDevices.entry(for: LocalAPICModel.base))
    vcpu.localAPIC = nil
    XCTAssertNil(vcpu.localDevices.entry(for: LocalAPICModel.base), "removed with the APIC")
  }
}
