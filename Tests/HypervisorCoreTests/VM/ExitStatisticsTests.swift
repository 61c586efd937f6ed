import HypervisorCore
import XCTest

final class ExitStatisticsTests: XCTestCase {
  func testRecordCountsAndCycles() {
    let statistics = ExitStatistics()
    statistics.record(.cpuid, cycles: 100)
    statistics.record(.cpuid, cycles: 250)
    statistics.record(.nestedPageFault, cycles: 5000)
    XCTAssertEqual(statistics.count(.cpuid), 2)
    XCTAssertEqual(statistics.cycles(.cpuid), 350)
    XCTAssertEqual(statistics.count(.nestedPageFault), 1)
    XCTAssertEqual(statistics.cycles(.nestedPageFault), 5000)
    XCTAssertEqual(statistics.count(.halt), 0)
    XCTAssertEqual(statistics.cycles(.halt), 0)
  }

  func testTotals() {
    let statistics = ExitStatistics()
    XCTAssertEqual(statistics.totalExits, 0)
    XCTAssertEqual(statistics.totalCycles, 0)
    for (index, kind) in ExitKind.allCases.enumerated() {
      statistics.record(kind, cycles: UInt64(index))
    }
    XCTAssertEqual(statistics.totalExits, UInt64(ExitKind.count))
    XCTAssertEqual(statistics.totalCycles, UInt64((0..<ExitKind.count).reduce(0, +)))
    XCTAssertEqual(statistics.count(.unknown), 1, "the last kind has its own slot")
  }

  func testAddSumsEverything() {
    let first = ExitStatistics()
    first.record(.hypercall, cycles: 10)
    first.unhandledPortReads = 1
    first.refusedMSRAccesses = 2
    let second = ExitStatistics()
    second.record(.hypercall, cycles: 5)
    second.record(.msrWrite, cycles: 7)
    second.unhandledPortReads = 3
    second.unhandledPortWrites = 4
    second.unmappedMMIOAccesses = 5
    second.injectedEvents = 6
    first.outsideGuestCycles = 100
    second.outsideGuestCycles = 50
    second.hostInterruptCycles = 8
    first.add(second)
    XCTAssertEqual(first.count(.hypercall), 2)
    XCTAssertEqual(first.cycles(.hypercall), 15)
    XCTAssertEqual(first.count(.msrWrite), 1)
    XCTAssertEqual(first.unhandledPortReads, 4)
    XCTAssertEqual(first.unhandledPortWrites, 4)
    XCTAssertEqual(first.refusedMSRAccesses, 2)
    XCTAssertEqual(first.unmappedMMIOAccesses, 5)
    XCTAssertEqual(first.injectedEvents, 6)
    XCTAssertEqual(first.outsideGuestCycles, 150, "time outside the guest is summed")
    XCTAssertEqual(first.hostInterruptCycles, 8)
    XCTAssertEqual(second.count(.hypercall), 1, "the added one is unchanged")
  }

  func testVirtualMachineTotalsItsVCPUs() {
    var profile = VMProfile(name: Array("t".utf8))
    profile.vcpuCount = 3
    let vm = VirtualMachine(id: 1, profile: profile)
    vm.vcpus[0].statistics.record(.halt, cycles: 1)
    vm.vcpus[2].statistics.record(.halt, cycles: 2)
    vm.vcpus[2].statistics.refusedMSRAccesses = 9
    let total = vm.totalStatistics()
    XCTAssertEqual(total.count(.halt), 2)
    XCTAssertEqual(total.cycles(.halt), 3)
    XCTAssertEqual(total.refusedMSRAccesses, 9)
    XCTAssertEqual(vm.vcpus[0].statistics.count(.halt), 1, "the vCPU's own figures are untouched")
  }

  /// Exits the world switch served count under their kind and separately, with no cycles,
  /// and add up across vCPUs like the others.
  func testFastExitsCountUnderTheirKindAndApart() {
    let first = ExitStatistics()
    first.record(.cpuid, cycles: 300)
    first.recordFast(.cpuid, count: 5)
    first.recordFast(.portIO, count: 2)
    XCTAssertEqual(first.count(.cpuid), 6)
    XCTAssertEqual(first.fastCount(.cpuid), 5)
    XCTAssertEqual(first.cycles(.cpuid), 300, "fast exits add no cycles")
    XCTAssertEqual(first.fastExits, 7)
    XCTAssertEqual(first.totalExits, 8)
    let second = ExitStatistics()
    second.recordFast(.cpuid, count: 1)
    second.add(first)
    XCTAssertEqual(second.fastCount(.cpuid), 6)
    XCTAssertEqual(second.fastExits, 8)
  }
}
