import HypervisorCore
import XCTest

/// A guest that resets its own other vCPU with INIT and start-up IPIs as fast as it can
/// (guests/smp/init-sipi-storm.asm): each pair costs the target one reset, a storm posted
/// before one drain costs it one, nothing accumulates, and the statistics say what happened
/// (SDM 3A §9.4.3, §11.6.1).
final class INITStormTests: XCTestCase {
  private let clock = NanosecondClock()
  private let kicker = RecordingKicker()
  private let initToID1: (low: UInt32, high: UInt32) = (0x4500, 1 << 24)  // INIT, assert
  private let startupToID1: (low: UInt32, high: UInt32) = (0x0601, 1 << 24)  // SIPI, 0x1000

  private func machine(vcpus: Int) -> VirtualMachine {
    apicMachine(vcpus: vcpus, clock: clock, kicker: kicker, othersHalted: false, name: "storm")
  }

  private func send(_ vm: VirtualMachine, _ icr: (low: UInt32, high: UInt32)) {
    let apic = vm.vcpus[0].localAPIC!
    _ = apic.write(offset: 0x310, size: 4, value: UInt64(icr.high))
    _ = apic.write(offset: 0x300, size: 4, value: UInt64(icr.low))
    IPIRouting.routeOutgoing(from: vm.vcpus[0], in: vm)
  }

  func testEveryDrainedINITAndStartupPairRestartsTheTarget() {
    let vm = machine(vcpus: 2)
    let target = vm.vcpus[1]
    for round in 0..<2000 {
      target.registers.rax = UInt64(round) + 1
      target.registers.rip = 0x5000
      send(vm, initToID1)
      send(vm, startupToID1)
      XCTAssertEqual(VCPURequests.drain(target, vm: vm), [])
      XCTAssertEqual(target.state, .runnable)
      XCTAssertEqual(target.startupState, .startup(vector: 1))
      XCTAssertEqual(target.registers.rax, 0, "round \(round): registers cleared")
      target.startupState = nil  // the backend loaded it
    }
    XCTAssertEqual(target.statistics.initSignalsTaken, 2000)
    XCTAssertEqual(target.statistics.startupIPIsTaken, 2000)
    XCTAssertEqual(target.statistics.startupIPIsIgnored, 0)
    XCTAssertFalse(target.hasRequests)
    XCTAssertTrue(vm.vcpus[0].localAPIC!.outgoing.isEmpty, "nothing queued on the sender")
    XCTAssertFalse(vm.vcpus[0].hasRequests, "the sender is not touched")
    XCTAssertEqual(vm.vcpus[0].statistics.ignoredInterprocessorInterrupts, 0)
  }

  /// Thousands of pairs posted while the target's CPU is busy are one reset and one start
  /// when it drains: the work is bounded by the drains, not by the sender's rate.
  func testAStormPostedBeforeOneDrainCostsOneReset() {
    let vm = machine(vcpus: 2)
    let target = vm.vcpus[1]
    for _ in 0..<5000 {
      send(vm, initToID1)
      send(vm, startupToID1)
    }
    _ = VCPURequests.drain(target, vm: vm)
    XCTAssertEqual(target.state, .runnable)
    XCTAssertEqual(target.startupState, .startup(vector: 1))
    XCTAssertEqual(target.statistics.initSignalsTaken, 1)
    XCTAssertEqual(target.statistics.startupIPIsTaken, 1)
    XCTAssertFalse(target.hasRequests)
  }

  /// A start-up IPI to a running vCPU is ignored (§9.4.3) and counted as such.
  func testAStartupWithoutINITIsCountedAsIgnored() {
    let vm = machine(vcpus: 2)
    send(vm, startupToID1)
    _ = VCPURequests.drain(vm.vcpus[1], vm: vm)
    XCTAssertNil(vm.vcpus[1].startupState)
    XCTAssertEqual(vm.vcpus[1].statistics.startupIPIsTaken, 0)
    XCTAssertEqual(vm.vcpus[1].statistics.startupIPIsIgnored, 1)
  }

  /// INIT and SIPI to an APIC ID no vCPU has, and an INIT de-assert (level 0, trigger
  /// level), reach nobody and are counted on the sender.
  func testAbsentTargetsAndDeassertAreIgnoredAndCounted() {
    let vm = machine(vcpus: 2)
    send(vm, (0x4500, 7 << 24))
    send(vm, (0x0601, 7 << 24))
    send(vm, (0x8500, 1 << 24))
    XCTAssertFalse(vm.vcpus[1].hasRequests)
    XCTAssertEqual(vm.vcpus[0].statistics.ignoredInterprocessorInterrupts, 3)
  }

  /// The all-excluding-self shorthand (ICR[19:18] = 11b) resets every other vCPU, never
  /// the sender.
  func testAllExcludingSelfResetsEveryOtherVCPU() {
    let vm = machine(vcpus: 3)
    send(vm, (0xC_4500, 0))
    send(vm, (0xC_0601, 0))
    XCTAssertFalse(vm.vcpus[0].hasRequests)
    for target in vm.vcpus.dropFirst() {
      _ = VCPURequests.drain(target, vm: vm)
      XCTAssertEqual(target.state, .runnable)
      XCTAssertEqual(target.startupState, .startup(vector: 1))
      XCTAssertEqual(target.statistics.initSignalsTaken, 1)
    }
    let total = ExitStatistics()
    for vcpu in vm.vcpus { total.add(vcpu.statistics) }
    XCTAssertEqual(total.initSignalsTaken, 2, "the VM's report adds them up")
    XCTAssertEqual(total.startupIPIsTaken, 2)
  }
}
