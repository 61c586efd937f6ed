import XCTest

@testable import HypervisorCore

final class SchedulingPlacementTests: XCTestCase {
  private func place(
    _ topology: CPUTopology, _ assignment: CPUAssignment, vm: Int = 1, vcpus: Int,
    _ mode: SchedulingMode, pin: [Int]? = nil
  ) -> Result<[Int], PlacementRefusal> {
    VCPUPlacement(topology: topology, assignment: assignment).place(
      PlacementRequest(vm: vm, vcpuCount: vcpus, mode: mode, explicitCPUs: pin))
  }

  /// Four CPUs that say nothing about their topology (as `-cpu EPYC -smp 4` is treated when
  /// its leaves are not trusted): four cores, one cache group.
  private let fourCPUs = CPUTopology(apicIDs: [0, 1, 2, 3], snapshots: [])
  /// The first 8 CPUs of the Skylake-SP fixture: 4 cores of 2 threads, one L3.
  private var fourCoresTwoThreads: CPUTopology {
    let machine = TopologyFixtures.skylakeSP
    return CPUTopology(
      apicIDs: Array(machine.apicIDs[0..<8]), snapshots: Array(machine.snapshots[0..<8]))
  }

  private func text(_ refusal: PlacementRefusal) -> String {
    String(
      decoding: refusal.describe { Array("vm\($0)".utf8) }, as: UTF8.self)
  }

  // MARK: Rome: keep a VM within a CCX, one thread per core

  func testRomeGangVMFillsOneCCXOneThreadPerCore() throws {
    let rome = TopologyFixtures.rome.topology
    let cpus = try place(rome, CPUAssignment(cpuCount: 256), vcpus: 4, .gang).get()
    XCTAssertEqual(cpus, [0, 2, 4, 6])
    XCTAssertEqual(Set(cpus.map { rome[$0].lastLevelCacheGroup }), [0])
  }

  func testRomePinnedVMAfterAGangVMTakesTheNextWholeCCX() throws {
    let rome = TopologyFixtures.rome.topology
    var assignment = CPUAssignment(cpuCount: 256)
    assignment.assign(vm: 1, mode: .gang, cpus: [0, 2, 4, 6])
    // CPUs 1, 3, 5, 7 are free but are siblings of busy threads: CCX 1 has whole cores.
    XCTAssertEqual(try place(rome, assignment, vm: 2, vcpus: 4, .pinned).get(), [8, 10, 12, 14])
  }

  func testRomeEightVCPUsUseTwoCCXsOfOnePackageRatherThanSMTSiblings() throws {
    let rome = TopologyFixtures.rome.topology
    let cpus = try place(rome, CPUAssignment(cpuCount: 256), vcpus: 8, .pinned).get()
    XCTAssertEqual(cpus, [0, 2, 4, 6, 8, 10, 12, 14])
    for cpu in cpus { XCTAssertTrue(rome.siblings(of: cpu).allSatisfy { !cpus.contains($0) }) }
  }

  func testRomeBestFitLeavesWholeCCXsForLargerVMs() throws {
    let rome = TopologyFixtures.rome.topology
    var assignment = CPUAssignment(cpuCount: 256)
    assignment.assign(vm: 1, mode: .pinned, cpus: [0, 2])  // CCX 0 keeps 2 whole cores
    XCTAssertEqual(try place(rome, assignment, vm: 2, vcpus: 2, .pinned).get(), [4, 6])
    XCTAssertEqual(try place(rome, assignment, vm: 3, vcpus: 3, .pinned).get(), [8, 10, 12])
  }

  func testRomeSharedVCPUsAvoidBusyCores() throws {
    let rome = TopologyFixtures.rome.topology
    var assignment = CPUAssignment(cpuCount: 256)
    assignment.assign(vm: 1, mode: .gang, cpus: [0, 2, 4, 6])
    XCTAssertEqual(try place(rome, assignment, vm: 2, vcpus: 2, .shared).get(), [8, 10])
  }

  // MARK: Naples: a VM that spills over its CCX stays in its NUMA node

  func testNaplesSpillStaysInTheNodeRatherThanTakeTheBestFit() throws {
    let naples = TopologyFixtures.naples.topology
    var assignment = CPUAssignment(cpuCount: 64)
    // CCX 1 (node 0) keeps 3 whole cores; CCX 3 (node 1) keeps exactly 2.
    assignment.assign(vm: 1, mode: .pinned, cpus: [8, 24, 26])
    let cpus = try place(naples, assignment, vm: 2, vcpus: 6, .pinned).get()
    XCTAssertEqual(cpus, [0, 2, 4, 6, 10, 12])
    XCTAssertEqual(Set(cpus.map { naples[$0].numaNode }), [0])
  }

  // MARK: Skylake-SP

  func testSkylakeSPPinnedVMStaysInOnePackageOnWholeCores() throws {
    let skx = TopologyFixtures.skylakeSP.topology
    let cpus = try place(skx, CPUAssignment(cpuCount: 96), vcpus: 4, .pinned).get()
    XCTAssertEqual(cpus, [0, 2, 4, 6])
    let all = try place(skx, CPUAssignment(cpuCount: 96), vcpus: 48, .pinned).get()
    XCTAssertEqual(all, Array(stride(from: 0, to: 96, by: 2)), "every core's first thread")
  }

  func testSkylakeSPVMThatFitsInOnePackageDoesNotSpanTwo() throws {
    let skx = TopologyFixtures.skylakeSP.topology
    var assignment = CPUAssignment(cpuCount: 96)
    assignment.assign(vm: 1, mode: .pinned, cpus: Array(stride(from: 0, to: 40, by: 2)))
    // Package 0 has 4 whole cores left; an 8-vCPU VM fits package 1 whole.
    let cpus = try place(skx, assignment, vm: 2, vcpus: 8, .pinned).get()
    XCTAssertEqual(cpus, Array(stride(from: 48, to: 64, by: 2)))
  }

  // MARK: SMT siblings only when no whole core is left

  func testSiblingsOnlyAfterEveryCoreHasOne() throws {
    let machine = fourCoresTwoThreads
    let empty = CPUAssignment(cpuCount: 8)
    XCTAssertEqual(try place(machine, empty, vcpus: 4, .pinned).get(), [0, 2, 4, 6])
    XCTAssertEqual(try place(machine, empty, vcpus: 6, .pinned).get(), [0, 2, 4, 6, 1, 3])
    var assignment = CPUAssignment(cpuCount: 8)
    assignment.assign(vm: 1, mode: .pinned, cpus: [0, 2, 4])
    // Core 3 is whole; then the free thread of a busy core, not two threads of one core.
    XCTAssertEqual(try place(machine, assignment, vm: 2, vcpus: 2, .pinned).get(), [6, 1])
  }

  func testSharedVCPUsSpreadBeforeStacking() throws {
    let machine = fourCoresTwoThreads
    let cpus = try place(machine, CPUAssignment(cpuCount: 8), vcpus: 10, .shared).get()
    XCTAssertEqual(Array(cpus[0..<4]), [0, 2, 4, 6], "whole cores first")
    XCTAssertEqual(Set(cpus[4..<8]), [1, 3, 5, 7], "then siblings")
    XCTAssertEqual(cpus.count, 10, "then two vCPUs share a thread")
  }

  // MARK: Gang VMs share CPUs with each other, never with pinned VMs

  func testGangVMsMayShareCPUsButPreferFreeOnes() throws {
    let eight = CPUTopology(apicIDs: Array(0..<8), snapshots: [])
    var assignment = CPUAssignment(cpuCount: 8)
    assignment.assign(vm: 1, mode: .gang, cpus: [0, 1, 2, 3])
    XCTAssertEqual(try place(eight, assignment, vm: 2, vcpus: 4, .gang).get(), [4, 5, 6, 7])
    assignment.assign(vm: 2, mode: .gang, cpus: [4, 5, 6, 7])
    assignment.assign(vm: 3, mode: .gang, cpus: [0, 1])
    XCTAssertEqual(try place(eight, assignment, vm: 4, vcpus: 4, .gang).get(), [2, 3, 4, 5])
    XCTAssertEqual(try place(eight, assignment, vm: 5, vcpus: 8, .gang).get().count, 8)
  }

  func testGangNeverUsesPinnedCPUs() {
    var assignment = CPUAssignment(cpuCount: 4)
    assignment.assign(vm: 1, mode: .pinned, cpus: [0, 1])
    let result = place(fourCPUs, assignment, vm: 2, vcpus: 4, .gang)
    XCTAssertEqual(result, .failure(.notEnoughUnpinnedCPUs(needed: 4, unpinned: 2)))
    if case .failure(let refusal) = result {
      XCTAssertEqual(text(refusal), "needs 4 distinct CPUs but only 2 are free of pinned VMs")
    }
    XCTAssertEqual(try place(fourCPUs, assignment, vm: 2, vcpus: 2, .gang).get(), [2, 3])
  }

  func testPinnedNeedsCPUsFreeOfPinnedAndGangVMs() {
    var assignment = CPUAssignment(cpuCount: 4)
    assignment.assign(vm: 1, mode: .pinned, cpus: [0])
    assignment.assign(vm: 2, mode: .gang, cpus: [1])
    let result = place(fourCPUs, assignment, vm: 3, vcpus: 4, .pinned)
    XCTAssertEqual(result, .failure(.notEnoughFreeCPUs(needed: 4, free: 2)))
    if case .failure(let refusal) = result {
      XCTAssertEqual(
        text(refusal), "needs 4 CPUs of its own but only 2 are free of other VMs")
    }
  }

  func testSharedNeedsOneUnpinnedCPU() {
    var assignment = CPUAssignment(cpuCount: 4)
    assignment.assign(vm: 1, mode: .pinned, cpus: [0, 1, 2, 3])
    XCTAssertEqual(
      place(fourCPUs, assignment, vm: 2, vcpus: 1, .shared),
      .failure(.notEnoughUnpinnedCPUs(needed: 1, unpinned: 0)))
    assignment.release(vm: 1)
    XCTAssertEqual(try place(fourCPUs, assignment, vm: 2, vcpus: 1, .shared).get(), [0])
  }

  func testTheBootCPUIsAValidCPU() throws {
    XCTAssertEqual(
      try place(fourCPUs, CPUAssignment(cpuCount: 4), vcpus: 1, .pinned, pin: [0]).get(), [0])
    XCTAssertEqual(try place(fourCPUs, CPUAssignment(cpuCount: 4), vcpus: 1, .pinned).get(), [0])
  }

  // MARK: pin=

  func testExplicitListIsTakenAsGiven() throws {
    let rome = TopologyFixtures.rome.topology
    XCTAssertEqual(
      try place(rome, CPUAssignment(cpuCount: 256), vcpus: 4, .pinned, pin: [0, 2, 4, 6]).get(),
      [0, 2, 4, 6])
    XCTAssertEqual(
      try place(rome, CPUAssignment(cpuCount: 256), vcpus: 2, .gang, pin: [9, 1]).get(), [9, 1])
  }

  func testExplicitListRefusals() {
    var assignment = CPUAssignment(cpuCount: 4)
    assignment.assign(vm: 7, mode: .pinned, cpus: [1])
    assignment.assign(vm: 8, mode: .gang, cpus: [3])
    let cases: [([Int], SchedulingMode, PlacementRefusal, String)] = [
      ([0, 9], .gang, .noSuchCPU(9), "pin= names CPU 9, which does not exist"),
      ([2, 2], .gang, .cpuNamedTwice(2), "pin= names CPU 2 twice"),
      (
        [0, 1], .gang, .cpuOwnedByPinnedVM(cpu: 1, vm: 7),
        "pin= names CPU 1, already owned by VM vm7"
      ),
      (
        [0, 3], .pinned, .cpuRunsGangVM(cpu: 3, vm: 8),
        "pin= names CPU 3, which gang VM vm8 runs on"
      ),
      ([0], .pinned, .pinListLength(listed: 1, vcpus: 2), "pin= lists 1 CPUs for 2 vCPUs"),
    ]
    for (pin, mode, refusal, words) in cases {
      XCTAssertEqual(
        place(fourCPUs, assignment, vm: 9, vcpus: 2, mode, pin: pin), .failure(refusal))
      XCTAssertEqual(text(refusal), words)
    }
    // A pinned VM never shares a core with another VM's shared vCPU.
    var withShared = assignment
    withShared.assign(vm: 5, mode: .shared, cpus: [2])
    XCTAssertEqual(
      place(fourCPUs, withShared, vm: 9, vcpus: 1, .pinned, pin: [2]),
      .failure(.cpuRunsSharedVCPU(cpu: 2, vm: 5)))
    XCTAssertEqual(
      text(.cpuRunsSharedVCPU(cpu: 2, vm: 5)),
      "pin= names CPU 2, where a shared vCPU of VM vm5 runs")
    XCTAssertEqual(
      try place(fourCPUs, withShared, vm: 9, vcpus: 1, .pinned).get(), [0],
      "without pin=, the pinned vCPU goes to a CPU no other VM uses")
    // Shared vCPUs may start on one core: they take turns there, and may move.
    XCTAssertEqual(
      try place(fourCPUs, assignment, vm: 9, vcpus: 2, .shared, pin: [2, 2]).get(), [2, 2])
    // A gang VM may name another gang VM's CPU.
    XCTAssertEqual(
      try place(fourCPUs, assignment, vm: 9, vcpus: 2, .gang, pin: [0, 3]).get(), [0, 3])
    XCTAssertEqual(place(fourCPUs, assignment, vm: 9, vcpus: 0, .gang), .failure(.noVCPUs))
  }

  func testAssignmentRecordsAndReleases() {
    var assignment = CPUAssignment(cpuCount: 4)
    assignment.assign(vm: 1, mode: .pinned, cpus: [0])
    assignment.assign(vm: 2, mode: .gang, cpus: [1, 2])
    assignment.assign(vm: 3, mode: .shared, cpus: [3, 3])
    XCTAssertEqual(assignment.pinnedOwner, [1, nil, nil, nil])
    XCTAssertEqual(assignment.gangVMs, [[], [2], [2], []])
    XCTAssertEqual(assignment.sharedLoad(3), 2)
    assignment.moveSharedVCPU(of: 3, from: 3, to: 2)
    XCTAssertEqual(assignment.sharedVCPUs, [[], [], [3], [3]])
    assignment.release(vm: 2)
    assignment.release(vm: 3)
    XCTAssertEqual(assignment.gangVMs, [[], [], [], []])
    XCTAssertTrue(assignment.isIdle(2))
    XCTAssertFalse(assignment.isIdle(0))
  }
}
