import HypervisorCore
import XCTest

/// IPIs between the vCPUs of one VM (SDM 3A §11.6.1): routing posts requests to the targets
/// and never writes their state; each delivery mode, shorthand and destination mode.
final class IPIRoutingTests: XCTestCase {
  private let clock = NanosecondClock()
  private var kicker = RecordingKicker()

  /// vCPUs with enabled APICs (ID = index), all but vCPU 0 halted, each kicked by `kicker`.
  private func machine(vcpus: Int) -> VirtualMachine {
    apicMachine(vcpus: vcpus, clock: clock, kicker: kicker)
  }

  private func send(_ vm: VirtualMachine, from index: Int, low: UInt32, high: UInt32 = 0) {
    let apic = vm.vcpus[index].localAPIC!
    _ = apic.write(offset: 0x310, size: 4, value: UInt64(high))
    _ = apic.write(offset: 0x300, size: 4, value: UInt64(low))
    IPIRouting.routeOutgoing(from: vm.vcpus[index], in: vm)
  }

  /// The vectors each vCPU's own CPU finds once it drains, highest first (then cleared).
  private func received(_ vm: VirtualMachine) -> [[UInt8]] {
    vm.vcpus.map { vcpu in
      _ = VCPURequests.drain(vcpu, vm: vm)
      let apic = vcpu.localAPIC!
      var vectors: [UInt8] = []
      while let vector = apic.pendingVector {
        vectors.append(vector)
        apic.acknowledge(vector)
        if apic.mode == .x2APIC {
          XCTAssertTrue(apic.writeX2APIC(0x80B, 0))  // EOI
        } else {
          _ = apic.write(offset: 0xB0, size: 4, value: 0)
        }
      }
      return vectors
    }
  }

  func testARoutedIPISetsOnlyARequestOnTheTargetUntilDrained() {
    let vm = machine(vcpus: 2)
    let target = vm.vcpus[1]
    send(vm, from: 0, low: 0x61, high: 1 << 24)
    XCTAssertEqual(kicker.kicked, [1], "the target's CPU is kicked")
    XCTAssertTrue(target.hasRequests)
    XCTAssertNil(target.localAPIC!.pendingVector, "its APIC is untouched")
    XCTAssertEqual(target.state, .halted, "its state is untouched")
    XCTAssertFalse(vm.vcpus[0].hasRequests)
    _ = VCPURequests.drain(target, vm: vm)
    XCTAssertEqual(target.localAPIC!.pendingVector, 0x61)
    XCTAssertFalse(target.hasRequests)
  }

  func testFixedByPhysicalIDAndBroadcast() {
    let vm = machine(vcpus: 3)
    send(vm, from: 0, low: 0x40, high: 2 << 24)
    send(vm, from: 0, low: 0x41, high: 0xFF << 24)
    send(vm, from: 0, low: 0x42, high: 7 << 24)  // no such APIC
    XCTAssertEqual(received(vm), [[0x41], [0x41], [0x41, 0x40]])
    XCTAssertEqual(vm.vcpus[0].statistics.ignoredInterprocessorInterrupts, 1, "ID 7: nobody")
  }

  func testShorthands() {
    let vm = machine(vcpus: 3)
    send(vm, from: 1, low: 1 << 18 | 0x50, high: 2 << 24)  // self: the destination is ignored
    send(vm, from: 1, low: 2 << 18 | 0x51)  // all including self
    send(vm, from: 1, low: 3 << 18 | 0x52)  // all excluding self
    XCTAssertEqual(received(vm), [[0x52, 0x51], [0x51, 0x50], [0x52, 0x51]])
  }

  func testLogicalFlatAndClusterDestinations() {
    let vm = machine(vcpus: 4)
    for vcpu in vm.vcpus {  // flat: LDR bit = index
      _ = vcpu.localAPIC!.write(offset: 0xD0, size: 4, value: UInt64(1 << vcpu.index) << 24)
    }
    send(vm, from: 0, low: 1 << 11 | 0x60, high: 0x0A << 24)  // vCPUs 1 and 3
    XCTAssertEqual(received(vm), [[], [0x60], [], [0x60]])
    for vcpu in vm.vcpus {  // cluster: cluster index / 2, member bit index % 2
      _ = vcpu.localAPIC!.write(offset: 0xE0, size: 4, value: 0x0FFF_FFFF)
      let ldr = UInt64((vcpu.index / 2) << 4 | 1 << (vcpu.index % 2))
      _ = vcpu.localAPIC!.write(offset: 0xD0, size: 4, value: ldr << 24)
    }
    send(vm, from: 0, low: 1 << 11 | 0x61, high: 0x13 << 24)  // cluster 1, both members
    send(vm, from: 0, low: 1 << 11 | 0x62, high: 0x01 << 24)  // cluster 0, member 0
    XCTAssertEqual(received(vm), [[0x62], [], [0x61], [0x61]])
  }

  func testLowestPriorityGoesToOneDestination() {
    let vm = machine(vcpus: 3)
    send(vm, from: 0, low: 3 << 18 | 1 << 8 | 0x70)
    XCTAssertEqual(received(vm), [[], [0x70], []])
  }

  func testNMIIncludingSelfNMI() {
    let vm = machine(vcpus: 3)
    send(vm, from: 0, low: 1 << 18 | 4 << 8)  // self
    send(vm, from: 0, low: 4 << 8, high: 2 << 24)  // vCPU 2
    _ = received(vm)
    XCTAssertEqual(vm.vcpus.map { $0.localAPIC!.nmiPending }, [true, false, true])
  }

  func testINITAndStartUpThroughTheICR() {
    let vm = machine(vcpus: 3)
    send(vm, from: 0, low: 3 << 18 | 1 << 15 | 1 << 14 | 5 << 8)  // INIT assert, all others
    send(vm, from: 0, low: 3 << 18 | 1 << 15 | 5 << 8)  // INIT de-assert: ignored
    XCTAssertEqual(vm.vcpus.map(\.state), [.runnable, .halted, .halted], "requests only")
    _ = received(vm)
    XCTAssertEqual(vm.vcpus.map(\.state), [.runnable, .waitingForStartup, .waitingForStartup])
    send(vm, from: 0, low: 6 << 8 | 0x9F, high: 2 << 24)  // SIPI to vCPU 2 only
    _ = received(vm)
    XCTAssertEqual(vm.vcpus.map(\.state), [.runnable, .waitingForStartup, .runnable])
    XCTAssertEqual(vm.vcpus[2].startupState, .startup(vector: 0x9F))
    XCTAssertNil(vm.vcpus[1].startupState)
    XCTAssertEqual(vm.vcpus[0].statistics.ignoredInterprocessorInterrupts, 1, "the de-assert")
  }

  func testX2APICDestinations() {
    let vm = machine(vcpus: 20)
    for vcpu in vm.vcpus { XCTAssertTrue(vcpu.localAPIC!.setBaseMSR(0xFEE0_0C00)) }
    let sender = vm.vcpus[0].localAPIC!
    func icr(_ value: UInt64) {
      XCTAssertTrue(sender.writeX2APIC(0x830, value))
      IPIRouting.routeOutgoing(from: vm.vcpus[0], in: vm)
    }
    icr(17 << 32 | 0x80)  // physical x2APIC ID 17
    icr(1 << 48 | 0x6 << 32 | 1 << 11 | 0x81)  // logical: cluster 1, IDs 17 and 18
    icr(0xFFFF_FFFF << 32 | 0x82)  // physical broadcast
    let vectors = received(vm)
    XCTAssertEqual(vectors[17], [0x82, 0x81, 0x80])
    XCTAssertEqual(vectors[18], [0x82, 0x81])
    XCTAssertEqual(vectors[1], [0x82])
    XCTAssertEqual(vectors[0], [0x82])
  }
}
