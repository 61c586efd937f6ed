import HypervisorCore
import XCTest

/// Records kicks, as the kernel's kicker would send host IPIs.
final class RecordingKicker: VCPUKicker {
  var kicked: [Int] = []
  func kick(_ vcpu: VirtualCPU) { kicked.append(vcpu.index) }
}

/// Per-vCPU requests: posted by any CPU, drained by the vCPU's own CPU in a fixed order.
final class VCPURequestsTests: XCTestCase {
  private let clock = NanosecondClock()

  private func machine(vcpus: Int = 1, apic: Bool = true) -> VirtualMachine {
    var profile = VMProfile(name: Array("requests".utf8))
    profile.vcpuCount = vcpus
    let vm = VirtualMachine(id: 0, profile: profile)
    for vcpu in vm.vcpus where apic {
      let model = LocalAPICModel(id: UInt8(vcpu.index), clock: clock)
      _ = model.write(offset: 0xF0, size: 4, value: 0x1FF)
      vcpu.localAPIC = model
    }
    return vm
  }

  func testPostSetsTheBitAndKicks() {
    let vcpu = VirtualCPU(index: 4)
    let kicker = RecordingKicker()
    vcpu.kicker = kicker
    vcpu.post(.flushTLB)
    vcpu.post(.reschedule)
    XCTAssertEqual(kicker.kicked, [4, 4])
    XCTAssertTrue(vcpu.hasRequests)
    XCTAssertEqual(vcpu.takeRequests(), [.flushTLB, .reschedule])
    XCTAssertFalse(vcpu.hasRequests, "taken at once")
    XCTAssertEqual(vcpu.takeRequests(), [])
  }

  func testPostedInterruptsCollectInTheBitmapUntilDrained() {
    let vm = machine()
    let vcpu = vm.vcpus[0]
    for vector: UInt8 in [0x20, 0x7F, 0x80, 0xFF, 0x41] { vcpu.postInterrupt(vector: vector) }
    XCTAssertFalse(vcpu.postedInterrupts.isEmpty)
    XCTAssertNil(vcpu.localAPIC!.pendingVector, "nothing in IRR before the drain")
    XCTAssertEqual(VCPURequests.drain(vcpu, vm: vm), [])
    XCTAssertTrue(vcpu.postedInterrupts.isEmpty)
    let apic = vcpu.localAPIC!
    var taken: [UInt8] = []
    while let vector = apic.pendingVector {
      taken.append(vector)
      apic.acknowledge(vector)
      _ = apic.write(offset: 0xB0, size: 4, value: 0)
    }
    XCTAssertEqual(taken, [0xFF, 0x80, 0x7F, 0x41, 0x20])
  }

  func testNothingPendingDrainsToNothing() {
    let vm = machine()
    XCTAssertEqual(VCPURequests.drain(vm.vcpus[0], vm: vm), [])
    XCTAssertEqual(vm.vcpus[0].state, .runnable)
  }

  func testTheFollowUpReportsTLBFlushStopAndReschedule() {
    let vm = machine()
    let vcpu = vm.vcpus[0]
    vcpu.post([.flushTLB, .reschedule])
    XCTAssertEqual(VCPURequests.drain(vcpu, vm: vm), [.flushTLB, .reschedule])
    XCTAssertEqual(vcpu.state, .runnable)
    vcpu.post(.stop)
    XCTAssertEqual(VCPURequests.drain(vcpu, vm: vm), .stop)
    XCTAssertEqual(vcpu.state, .stopped)
  }

  /// The fixed order: NMI and interrupts first, then INIT (which resets the APIC and drops
  /// them, as a processor entering wait-for-SIPI), then the SIPI, then stop.
  func testDrainOrder() {
    let vm = machine()
    let vcpu = vm.vcpus[0]
    vcpu.postInterrupt(vector: 0x40)
    vcpu.post(.nmi)
    vcpu.post(.initSignal)
    vcpu.postStartup(vector: 0x12)
    XCTAssertEqual(VCPURequests.drain(vcpu, vm: vm), [])
    XCTAssertNil(vcpu.localAPIC!.pendingVector, "the interrupt came before INIT: reset away")
    XCTAssertFalse(vcpu.localAPIC!.nmiPending, "the NMI too")
    XCTAssertEqual(vcpu.state, .runnable, "the SIPI came after INIT: started")
    XCTAssertEqual(vcpu.startupState, .startup(vector: 0x12))

    vcpu.post(.initSignal)
    vcpu.post(.stop)
    vcpu.postStartup(vector: 0x13)
    XCTAssertEqual(VCPURequests.drain(vcpu, vm: vm), .stop)
    XCTAssertEqual(vcpu.state, .stopped, "stop is last")
  }

  func testAnNMIToAVCPUWithoutAnAPICBecomesItsPendingEventAfterAnyException() {
    let vm = machine(apic: false)
    let vcpu = vm.vcpus[0]
    vcpu.pendingEvent = .generalProtection(0)
    vcpu.post(.nmi)
    _ = VCPURequests.drain(vcpu, vm: vm)
    XCTAssertEqual(vcpu.pendingEvent, .generalProtection(0), "the exception goes first")
    XCTAssertTrue(vcpu.hasRequests, "the NMI waits for the next drain")
    vcpu.pendingEvent = nil  // injected
    _ = VCPURequests.drain(vcpu, vm: vm)
    XCTAssertEqual(vcpu.pendingEvent, .nmi)
    XCTAssertFalse(vcpu.hasRequests)
  }

  func testAnNMIToAVCPUWithAnAPICLatchesThere() {
    let vm = machine()
    vm.vcpus[0].post(.nmi)
    _ = VCPURequests.drain(vm.vcpus[0], vm: vm)
    XCTAssertTrue(vm.vcpus[0].localAPIC!.nmiPending)
    XCTAssertNil(vm.vcpus[0].pendingEvent, "injected by InterruptDelivery")
  }

  /// The delivery path takes interrupts and NMIs only; the rest waits for the full drain.
  func testDrainInterruptsLeavesTheOtherRequests() {
    let vm = machine()
    let vcpu = vm.vcpus[0]
    vcpu.postInterrupt(vector: 0x30)
    vcpu.post([.flushTLB, .initSignal])
    VCPURequests.drainInterrupts(vcpu)
    XCTAssertEqual(vcpu.localAPIC!.pendingVector, 0x30)
    XCTAssertEqual(vcpu.state, .runnable)
    XCTAssertEqual(vcpu.takeRequests(), [.flushTLB, .initSignal])
  }
}
