import XCTest

@testable import HypervisorCore

/// The topology Peregrine sees in the emulators its integration tests run in.
final class EmulatorTopologyTests: XCTestCase {
  private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

  func testQEMUEPYCWithFourCPUsIsOnePackageOfFourCores() {
    let machine = EmulatorTopologyFixtures.machine(
      EmulatorTopologyFixtures.qemuEPYC, apicIDs: [0, 1, 2, 3])
    XCTAssertTrue(machine.snapshots[0].isAMD)
    XCTAssertFalse(machine.snapshots[0].hasTopologyExtensions, "TCG drops TopologyExtensions")
    XCTAssertEqual(machine.snapshots[0].amdCaches, [], "not read without TopologyExtensions")
    let layout = APICIDLayout(decoding: machine.snapshots[0])
    XCTAssertEqual(layout.source, .extendedTopology)
    XCTAssertEqual(layout.smtWidth, 0)
    XCTAssertEqual(layout.packageShift, 2)
    XCTAssertEqual(layout.cacheShifts, [0, 0, 2], "no cache leaves: L3 per package assumed")
    let topology = machine.topology
    XCTAssertEqual(topology.packages, [0])
    XCTAssertEqual(topology.coreCount, 4)
    XCTAssertEqual(topology.siblings(of: 1), [])
    XCTAssertEqual(topology.cpus(sharingLastLevelCacheWith: 2), [0, 1, 2, 3])
    XCTAssertEqual(
      text(topology.description(of: 3)), "cpu 3: apic 3, package 0 core 3 thread 0, L3 group 0")
  }

  func testBochsSkylakeXWithTwoCPUsIsTwoPackages() {
    let machine = EmulatorTopologyFixtures.machine(
      EmulatorTopologyFixtures.bochsSkylakeX, apicIDs: [0, 1])
    XCTAssertEqual(machine.snapshots[0].extendedTopology, [], "leaf 0xB has no level type")
    XCTAssertEqual(machine.snapshots[0].deterministicCaches.count, 4)
    let layout = APICIDLayout(decoding: machine.snapshots[0])
    XCTAssertEqual(layout.source, .legacy)
    XCTAssertEqual(layout.packageShift, 0)
    let topology = machine.topology
    XCTAssertEqual(topology.packages, [0, 1])
    XCTAssertEqual(topology.lastLevelCacheGroupCount, 2)
    XCTAssertEqual(
      text(topology.description(of: 1)), "cpu 1: apic 1, package 1 core 0 thread 0, L3 group 1")
  }

  func testPlacementOnQEMUEPYC() throws {
    let topology = EmulatorTopologyFixtures.machine(
      EmulatorTopologyFixtures.qemuEPYC, apicIDs: [0, 1, 2, 3]
    ).topology
    var assignment = CPUAssignment(cpuCount: 4)
    let pinned = try VCPUPlacement(topology: topology, assignment: assignment).place(
      PlacementRequest(vm: 1, vcpuCount: 2, mode: .pinned)
    ).get()
    XCTAssertEqual(pinned, [0, 1])
    assignment.assign(vm: 1, mode: .pinned, cpus: pinned)
    XCTAssertEqual(
      VCPUPlacement(topology: topology, assignment: assignment).place(
        PlacementRequest(vm: 2, vcpuCount: 4, mode: .gang)),
      .failure(.notEnoughUnpinnedCPUs(needed: 4, unpinned: 2)))
  }
}
