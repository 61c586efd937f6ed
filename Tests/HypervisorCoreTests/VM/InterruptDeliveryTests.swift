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

  /// SVM offers the vector (V_IRQ); the APIC acknowledges only what the guest took, so an
  /// offer the guest did not take is offered again, and a taken one never twice.
  func testAnOfferedVectorIsAcknowledgedOnlyOnceTaken() {
    let (vcpu, apic) = vcpuWithAPIC()
    XCTAssertNil(InterruptDelivery.vectorToOffer(vcpu))
    apic.request(0x40)
    XCTAssertEqual(InterruptDelivery.vectorToOffer(vcpu), 0x40)
    XCTAssertEqual(InterruptDelivery.vectorToOffer(vcpu), 0x40, "not taken: offered again")
    apic.request(0x80)
    XCTAssertEqual(InterruptDelivery.vectorToOffer(vcpu), 0x80, "a higher class replaces it")
    InterruptDelivery.offerTaken(vcpu, vector: 0x80)
    XCTAssertEqual(vcpu.statistics.injectedEvents, 1)
    XCTAssertNil(InterruptDelivery.vectorToOffer(vcpu), "0x40 waits below 0x80 in service")
    _ = apic.write(offset: 0xB0, size: 4, value: 0)  // EOI
    XCTAssertEqual(InterruptDelivery.vectorToOffer(vcpu), 0x40)
    InterruptDelivery.offerTaken(vcpu, vector: 0x40)
    _ = apic.write(offset: 0xB0, size: 4, value: 0)
    XCTAssertNil(InterruptDelivery.vectorToOffer(vcpu), "each vector delivered once")
  }

  /// The flight recorder notes an offer when it changes, not on every entry it stands.
  func testAnOfferStandingOverManyEntriesIsNotedOnce() {
    let (vcpu, apic) = vcpuWithAPIC()
    func offers() -> [UInt64] {
      vcpu.flight.events.filter { $0.kind == .offer }.map(\.detail)
    }
    apic.request(0x40)
    for _ in 0..<100 { XCTAssertEqual(InterruptDelivery.vectorToOffer(vcpu), 0x40) }
    XCTAssertEqual(offers(), [0x40], "one event for 100 entries")
    apic.request(0x80)
    _ = InterruptDelivery.vectorToOffer(vcpu)
    XCTAssertEqual(offers(), [0x40, 0x80], "a new vector is noted")
    InterruptDelivery.offerTaken(vcpu, vector: 0x80)
    _ = apic.write(offset: 0xB0, size: 4, value: 0)  // EOI
    _ = InterruptDelivery.vectorToOffer(vcpu)
    XCTAssertEqual(offers(), [0x40, 0x80, 0x40], "after a take, 0x40 is offered anew")
    InterruptDelivery.offerTaken(vcpu, vector: 0x40)
    _ = apic.write(offset: 0xB0, size: 4, value: 0)
    XCTAssertNil(InterruptDelivery.vectorToOffer(vcpu))
    apic.request(0x40)
    _ = InterruptDelivery.vectorToOffer(vcpu)
    XCTAssertEqual(offers(), [0x40, 0x80, 0x40, 0x40], "the same vector, requested again")
    XCTAssertEqual(vcpu.flight.events.filter { $0.kind == .offerTaken }.count, 2)
  }

  func testAnExpiredTimerWakesAHaltedVCPU() {
    let (vcpu, apic) = vcpuWithAPIC()
    _ = apic.write(offset: 0x3E0, size: 4, value: 0xB)  // divide by 1
    _ = apic.write(offset: 0x320, size: 4, value: 0x30)
    _ = apic.write(offset: 0x380, size: 4, value: 200_000)
    XCTAssertFalse(InterruptDelivery.shouldWake(vcpu))
    clock.now += 200_000
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

  // MARK: IPIs and NMIs

  /// A VM whose vCPUs each have an enabled APIC (IDs 0, 1, ...), all halted but vCPU 0.
  private func machine(vcpus: Int) -> VirtualMachine {
    apicMachine(vcpus: vcpus, clock: clock)
  }

  private func sendIPI(_ vm: VirtualMachine, from index: Int, low: UInt32, high: UInt32 = 0) {
    let apic = vm.vcpus[index].localAPIC!
    _ = apic.write(offset: 0x310, size: 4, value: UInt64(high))
    _ = apic.write(offset: 0x300, size: 4, value: UInt64(low))
  }

  private func prepareNMI(
    _ vm: VirtualMachine, _ index: Int, canTake: Bool = true, blocked: Bool? = nil
  ) -> InterruptDelivery.NMIDecision {
    InterruptDelivery.prepareNMI(
      vm.vcpus[index], vm: vm, guestCanTakeNMI: canTake,
      nmiBlocked: blocked ?? vm.vcpus[index].nmiBlocking.isBlocked)
  }

  /// The sender takes its own copy before its entry; the others get a request only, which
  /// their own CPU takes when deciding whether to wake them.
  func testAFixedIPIToAllIncludingSelfReachesEveryVCPUAndWakesThem() {
    let vm = machine(vcpus: 3)
    sendIPI(vm, from: 0, low: 2 << 18 | 0x50)
    XCTAssertEqual(prepareNMI(vm, 0), .none, "routed, no NMI")
    XCTAssertEqual(vm.vcpus.map { $0.localAPIC!.pendingVector }, [0x50, nil, nil])
    XCTAssertEqual(vm.vcpus.map(\.state), [.runnable, .halted, .halted], "state not touched")
    XCTAssertTrue(vm.vcpus[1].hasRequests)
    XCTAssertTrue(InterruptDelivery.shouldWake(vm.vcpus[1]))
    XCTAssertTrue(InterruptDelivery.shouldWake(vm.vcpus[2]))
    XCTAssertEqual(vm.vcpus.map { $0.localAPIC!.pendingVector }, [0x50, 0x50, 0x50])
  }

  func testShorthandsAndDestinationModesSelectTheirTargets() {
    let vm = machine(vcpus: 3)
    _ = vm.vcpus[2].localAPIC!.write(offset: 0xD0, size: 4, value: 0x0400_0000)
    sendIPI(vm, from: 1, low: 3 << 18 | 0x51)  // all excluding self
    sendIPI(vm, from: 1, low: 1 << 18 | 0x52)  // self
    sendIPI(vm, from: 1, low: 0x53, high: 0 << 24)  // physical ID 0
    sendIPI(vm, from: 1, low: 1 << 11 | 0x54, high: 0x04 << 24)  // logical, LDR bit 2
    IPIRouting.routeOutgoing(from: vm.vcpus[1], in: vm)
    func requested(_ index: Int) -> [UInt8] {
      _ = VCPURequests.drain(vm.vcpus[index], vm: vm)
      let apic = vm.vcpus[index].localAPIC!
      var vectors: [UInt8] = []
      while let vector = apic.pendingVector {
        vectors.append(vector)
        apic.acknowledge(vector)
        _ = apic.write(offset: 0xB0, size: 4, value: 0)
      }
      return vectors
    }
    XCTAssertEqual(requested(0), [0x53, 0x51])
    XCTAssertEqual(requested(1), [0x52])
    XCTAssertEqual(requested(2), [0x54, 0x51])
  }

  func testSMIAndINITDeassertAreIgnoredAndCounted() {
    let vm = machine(vcpus: 2)
    sendIPI(vm, from: 0, low: 3 << 18 | 2 << 8)  // SMI to all others
    sendIPI(vm, from: 0, low: 2 << 18 | 1 << 15 | 5 << 8)  // INIT level de-assert
    IPIRouting.routeOutgoing(from: vm.vcpus[0], in: vm)
    XCTAssertEqual(vm.vcpus[0].statistics.ignoredInterprocessorInterrupts, 2)
    XCTAssertFalse(vm.vcpus[0].hasRequests)
    XCTAssertFalse(vm.vcpus[1].hasRequests)
    XCTAssertEqual(vm.vcpus[1].state, .halted)
  }

  /// A self-NMI (delivery mode 100b, shorthand self) is injected as an NMI, before a
  /// pending maskable interrupt.
  func testASelfNMIIsInjected() {
    let vm = machine(vcpus: 1)
    let vcpu = vm.vcpus[0]
    vcpu.localAPIC!.request(0x60)
    sendIPI(vm, from: 0, low: 1 << 18 | 4 << 8)
    XCTAssertEqual(prepareNMI(vm, 0), .injected)
    XCTAssertEqual(vcpu.pendingEvent, .nmi)
    XCTAssertEqual(
      InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: true), .needsWindow,
      "the interrupt waits behind the NMI")
    XCTAssertFalse(vcpu.localAPIC!.nmiPending, "delivered once")
  }

  func testAnNMIToOwnIDByPhysicalDestinationIsInjected() {
    let vm = machine(vcpus: 2)
    sendIPI(vm, from: 1, low: 4 << 8, high: 1 << 24)
    XCTAssertEqual(prepareNMI(vm, 1), .injected)
    XCTAssertEqual(prepareNMI(vm, 0), .none)
  }

  /// A second NMI while the guest handles one is held, not nested, and not lost.
  func testASecondNMIWaitsForTheIRETOfTheFirst() {
    let vm = machine(vcpus: 1)
    let vcpu = vm.vcpus[0]
    sendIPI(vm, from: 0, low: 1 << 18 | 4 << 8)
    XCTAssertEqual(prepareNMI(vm, 0, canTake: !vcpu.nmiBlocking.isBlocked), .injected)
    vcpu.nmiBlocking.nmiInjected()  // the SVM backend's part
    vcpu.pendingEvent = nil  // entered the guest
    XCTAssertTrue(vcpu.nmiBlocking.wantsIRETIntercept)
    sendIPI(vm, from: 0, low: 1 << 18 | 4 << 8)  // from inside the handler
    vcpu.nmiBlocking.exited(rip: 0x2000, iret: false)
    XCTAssertEqual(prepareNMI(vm, 0, canTake: !vcpu.nmiBlocking.isBlocked), .needsWindow)
    vcpu.nmiBlocking.exited(rip: 0x2040, iret: true)  // IRET intercepted, not yet executed
    XCTAssertFalse(vcpu.nmiBlocking.wantsIRETIntercept)
    XCTAssertEqual(prepareNMI(vm, 0, canTake: !vcpu.nmiBlocking.isBlocked), .needsWindow)
    vcpu.nmiBlocking.exited(rip: 0x2040, iret: false)
    XCTAssertTrue(vcpu.nmiBlocking.isBlocked, "still at the IRET")
    vcpu.nmiBlocking.exited(rip: 0x1234, iret: false)  // the IRET has executed
    XCTAssertFalse(vcpu.nmiBlocking.isBlocked)
    XCTAssertEqual(prepareNMI(vm, 0, canTake: !vcpu.nmiBlocking.isBlocked), .injected)
    XCTAssertFalse(vcpu.localAPIC!.nmiPending)
  }

  func testAPendingNMIWakesAHaltedVCPU() {
    let vm = machine(vcpus: 2)
    XCTAssertFalse(InterruptDelivery.shouldWake(vm.vcpus[1]))
    vm.vcpus[1].localAPIC!.latchNMIs(1)
    XCTAssertTrue(InterruptDelivery.shouldWake(vm.vcpus[1]))
  }

  /// kvm-unit-tests' "multiple nmi": vCPU 0 sends itself an NMI while vCPU 1 sends it one,
  /// both before vCPU 0's next drain. A processor takes the first at once and latches the
  /// second (SDM 3A §6.7.1): both are delivered, the second after the first handler's IRET.
  func testTwoNMIsArrivingInOneDrainAreBothDelivered() {
    let vm = machine(vcpus: 2)
    let vcpu = vm.vcpus[0]
    sendIPI(vm, from: 1, low: 4 << 8, high: 0 << 24)  // vCPU 1: NMI to APIC ID 0
    IPIRouting.routeOutgoing(from: vm.vcpus[1], in: vm)
    sendIPI(vm, from: 0, low: 1 << 18 | 4 << 8)  // vCPU 0: self-NMI
    sendIPI(vm, from: 1, low: 0x44, high: 0 << 24)  // then vCPU 1's fixed IPI
    IPIRouting.routeOutgoing(from: vm.vcpus[1], in: vm)
    XCTAssertEqual(prepareNMI(vm, 0), .injected)
    vcpu.nmiBlocking.nmiInjected()  // the SVM backend's part (VMX: interruptibility bit 3)
    vcpu.pendingEvent = nil  // entered the guest
    XCTAssertEqual(vcpu.localAPIC!.pendingNMIs, 1, "the second is latched, not merged")
    XCTAssertEqual(prepareNMI(vm, 0, canTake: false), .needsWindow, "during the handler")
    vcpu.nmiBlocking.exited(rip: 0x2040, iret: true)
    vcpu.nmiBlocking.exited(rip: 0x1234, iret: false)  // the IRET has executed
    XCTAssertEqual(prepareNMI(vm, 0), .injected, "the second NMI, before 0x44")
    XCTAssertEqual(
      InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: true), .needsWindow,
      "0x44 waits behind the second NMI")
    vcpu.pendingEvent = nil
    XCTAssertEqual(vcpu.localAPIC!.pendingNMIs, 0)
    XCTAssertEqual(prepareNMI(vm, 0), .none, "no third NMI")
    XCTAssertEqual(
      InterruptDelivery.prepare(vcpu, guestCanTakeInterrupt: true), .injected(vector: 0x44))
  }

  /// While the guest handles an NMI the processor latches one more and drops the rest
  /// (SDM 3A §6.7.1; kvm-unit-tests' "pending nmi" sends ten from the handler and wants
  /// exactly two handled).
  func testNMIsSentDuringAHandlerMergeIntoOne() {
    let vm = machine(vcpus: 1)
    let vcpu = vm.vcpus[0]
    sendIPI(vm, from: 0, low: 1 << 18 | 4 << 8)
    XCTAssertEqual(prepareNMI(vm, 0), .injected)
    vcpu.nmiBlocking.nmiInjected()
    vcpu.pendingEvent = nil
    for _ in 0..<10 { sendIPI(vm, from: 0, low: 1 << 18 | 4 << 8) }
    XCTAssertEqual(prepareNMI(vm, 0, canTake: false), .needsWindow)
    XCTAssertEqual(vcpu.localAPIC!.pendingNMIs, 1, "one latched behind the handler")
    vcpu.nmiBlocking.exited(rip: 0x2040, iret: true)
    vcpu.nmiBlocking.exited(rip: 0x1234, iret: false)
    XCTAssertEqual(prepareNMI(vm, 0), .injected)
    vcpu.pendingEvent = nil
    XCTAssertEqual(prepareNMI(vm, 0, blocked: true), .none, "the rest were dropped")
  }

  /// An NMI whose injection the exit interrupted (re-injected) blocks as a handled one does.
  func testAnNMIBeingReinjectedLeavesRoomForOneMore() {
    let vm = machine(vcpus: 1)
    let apic = vm.vcpus[0].localAPIC!
    apic.latchNMIs(5)
    XCTAssertEqual(apic.pendingNMIs, 2, "two at most")
    XCTAssertEqual(prepareNMI(vm, 0, canTake: false, blocked: true), .needsWindow)
    XCTAssertEqual(apic.pendingNMIs, 1)
  }
}
