import XCTest

@testable import HypervisorCore

final class CPUTopologyTests: XCTestCase {
  private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

  // MARK: 2x Xeon Platinum 8160 (Skylake-SP)

  func testSkylakeSPDecodesLeafBAndLeaf4() {
    let machine = TopologyFixtures.skylakeSP
    let layout = APICIDLayout(decoding: machine.snapshots[0])
    XCTAssertEqual(layout.source, .extendedTopology)
    XCTAssertEqual(layout.smtWidth, 1)
    XCTAssertEqual(layout.packageShift, 6)
    // L1d and L2 per core (EAX[25:14] = 1), L3 per package (EAX[25:14] = 63).
    XCTAssertEqual(layout.cacheShifts, [1, 1, 6])
  }

  func testSkylakeSPHasTwoPackagesOf24CoresWithGaps() {
    let topology = TopologyFixtures.skylakeSP.topology
    XCTAssertEqual(topology.count, 96)
    XCTAssertEqual(topology.packages, [0, 1])
    XCTAssertEqual(topology.coreCount, 48)
    XCTAssertEqual(topology.cpus(inPackage: 1).count, 48)
    XCTAssertEqual(topology.lastLevelCacheGroupCount, 2)
    XCTAssertEqual(topology.numaNodes, [0, 1])
    let cores = Set(topology.cpus.filter { $0.package == 0 }.map { $0.core })
    XCTAssertEqual(
      cores,
      Set([
        0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13,
        16, 17, 18, 19, 20, 21, 24, 25, 26, 27, 28, 29,
      ]))
    let cpu13 = topology[13]
    XCTAssertEqual(cpu13.apicID, 0x11)
    XCTAssertEqual(cpu13.core, 8)
    XCTAssertEqual(cpu13.thread, 1)
    XCTAssertEqual(topology[48].package, 1)
    XCTAssertEqual(topology[48].core, 0)
  }

  func testSkylakeSPSiblingsAndCacheSharing() {
    let topology = TopologyFixtures.skylakeSP.topology
    XCTAssertEqual(topology.siblings(of: 0), [1])
    XCTAssertEqual(topology.siblings(of: 13), [12])
    XCTAssertEqual(topology.threads(ofCoreOf: 13), [12, 13])
    XCTAssertEqual(topology.cpus(sharingLevel: 2, cacheWith: 13), [12, 13])
    XCTAssertEqual(topology.cpus(sharingLastLevelCacheWith: 5), Array(0..<48))
    XCTAssertEqual(topology.cpus(sharingLastLevelCacheWith: 50), Array(48..<96))
  }

  func testSkylakeSPBootLogLine() {
    let topology = TopologyFixtures.skylakeSP.topology
    XCTAssertEqual(
      text(topology.description(of: 13)), "cpu 13: apic 17, package 0 core 8 thread 1, L3 group 0")
    XCTAssertEqual(
      text(topology.description(of: 95)),
      "cpu 95: apic 123, package 1 core 29 thread 1, L3 group 1")
  }

  func testMADTOrderDoesNotChangeWhereEachAPICIDSits() {
    // Firmware often lists every core's first thread before any second thread.
    let machine = TopologyFixtures.skylakeSP
    let order =
      machine.apicIDs.indices.filter { $0 % 2 == 0 }
      + machine.apicIDs.indices.filter { $0 % 2 == 1 }
    let reordered = CPUTopology(
      apicIDs: order.map { machine.apicIDs[$0] }, snapshots: order.map { machine.snapshots[$0] })
    let original = machine.topology
    for cpu in reordered.cpus {
      let same = original[original.cpu(withAPICID: cpu.apicID)!]
      XCTAssertEqual(cpu.package, same.package)
      XCTAssertEqual(cpu.core, same.core)
      XCTAssertEqual(cpu.thread, same.thread)
    }
    XCTAssertEqual(reordered.siblings(of: 0), [48])
  }

  // MARK: 2x EPYC 7742 (Rome)

  func testRomeHasSixteenFourCoreCCXsPerPackage() {
    let machine = TopologyFixtures.rome
    let layout = APICIDLayout(decoding: machine.snapshots[0])
    XCTAssertEqual(layout.source, .extendedTopology)
    XCTAssertEqual(layout.smtWidth, 1)
    XCTAssertEqual(layout.packageShift, 7)
    XCTAssertEqual(layout.cacheShifts, [1, 1, 3])
    let topology = machine.topology
    XCTAssertEqual(topology.count, 256)
    XCTAssertEqual(topology.packages, [0, 1])
    XCTAssertEqual(topology.coreCount, 128)
    XCTAssertEqual(topology.lastLevelCacheGroupCount, 32)
    XCTAssertEqual(topology.cpus(sharingLastLevelCacheWith: 0), Array(0..<8))
    XCTAssertEqual(topology.cpus(sharingLastLevelCacheWith: 13), Array(8..<16))
    XCTAssertEqual(topology.siblings(of: 130), [131])
    XCTAssertEqual(topology.numaNodes, [0, 1])
    XCTAssertEqual(
      text(topology.description(of: 130)),
      "cpu 130: apic 130, package 1 core 1 thread 0, L3 group 16")
  }

  func testRomeCoreIDsAgreeWithFn8000001E() {
    // Fn8000_001E_EBX[7:0] CoreId is what the APIC ID's core field says.
    let machine = TopologyFixtures.rome
    let topology = machine.topology
    for cpu in topology.cpus {
      XCTAssertEqual(UInt32(cpu.core), TopologyFixtures.romeCoreIDs[cpu.index] & 0xFF)
      XCTAssertEqual(UInt32(cpu.numaNode), TopologyFixtures.romeNodeIDs[cpu.index] & 0xFF)
    }
  }

  // MARK: EPYC 7551P (Naples, Zen 1: no leaf 0xB)

  func testNaplesDecodesFn8000001EAndApicIdCoreIdSize() {
    let machine = TopologyFixtures.naples
    let layout = APICIDLayout(decoding: machine.snapshots[0])
    XCTAssertEqual(layout.source, .amdTopologyExtensions)
    XCTAssertEqual(layout.smtWidth, 1)
    XCTAssertEqual(layout.packageShift, 6)
    XCTAssertEqual(layout.cacheShifts, [1, 1, 3])
    XCTAssertEqual(layout.nodeShift, 4, "four nodes per package")
    let topology = machine.topology
    XCTAssertEqual(topology.count, 64)
    XCTAssertEqual(topology.packages, [0])
    XCTAssertEqual(topology.lastLevelCacheGroupCount, 8)
    XCTAssertEqual(topology.numaNodes, [0, 1, 2, 3])
    XCTAssertEqual(topology[17].numaNode, 1)
    XCTAssertEqual(topology.cpus(sharingLastLevelCacheWith: 17), Array(16..<24))
    XCTAssertEqual(
      text(topology.description(of: 17)),
      "cpu 17: apic 17, package 0 core 8 thread 1, L3 group 2, node 1")
  }

  func testTheBootCPUsSnapshotPlacesCPUsNotStartedYet() {
    // Before the APs run, the BSP's CPUID alone places every MADT entry the same way.
    for machine in [TopologyFixtures.naples, TopologyFixtures.rome, TopologyFixtures.skylakeSP] {
      let full = machine.topology
      let early = CPUTopology(apicIDs: machine.apicIDs, snapshots: [machine.snapshots[0]])
      XCTAssertEqual(early.cpus, full.cpus)
    }
  }

  // MARK: CPUs that say little

  func testACPUWithoutTopologyLeavesIsOneCorePerAPICID() {
    let bare = CPUIDSnapshot(
      standardMaximum: CPUIDLeaf(eax: 1, ebx: 0x756E_6547), leaf1: CPUIDLeaf(eax: 0x0663))
    let topology = CPUTopology(apicIDs: [0, 1, 2, 3], snapshots: [bare, bare, bare, bare])
    XCTAssertEqual(topology.layouts[0].source, .none)
    XCTAssertEqual(topology.packages, [0])
    XCTAssertEqual(topology.coreCount, 4)
    XCTAssertEqual(topology.siblings(of: 2), [])
    XCTAssertEqual(topology.cpus(sharingLastLevelCacheWith: 3), [0, 1, 2, 3])
    XCTAssertEqual(
      text(topology.description(of: 3)), "cpu 3: apic 3, package 0 core 3 thread 0, L3 group 0")
  }

  func testNoSnapshotAtAllStillGivesAModel() {
    let topology = CPUTopology(apicIDs: [0, 2], snapshots: [])
    XCTAssertEqual(topology.count, 2)
    XCTAssertEqual(topology[1].core, 2)
    XCTAssertEqual(topology.coreCount, 2)
  }

  func testLegacyIntelLeaf1AndLeaf4() {
    // Leaf 1 EBX[23:16] = 16 logical IDs, leaf 4 EAX[31:26] = 7 (8 cores): 2 threads a core.
    let cpuid = CPUIDSnapshot(
      standardMaximum: CPUIDLeaf(eax: 4, ebx: 0x756E_6547),
      leaf1: CPUIDLeaf(ebx: 0x0010_0800, edx: 1 << 28),
      deterministicCaches: [CPUIDLeaf(eax: 0x1C00_4121), CPUIDLeaf(eax: 0x1C03_C163)])
    let layout = APICIDLayout(decoding: cpuid)
    XCTAssertEqual(layout.source, .legacy)
    XCTAssertEqual(layout.smtWidth, 1)
    XCTAssertEqual(layout.packageShift, 4)
    XCTAssertEqual(layout.cacheShifts, [1, nil, 4])
  }

  func testLeaf1FPreferredOverLeafB() {
    // A die level in 0x1F widens the package beyond what 0xB's core level says.
    var cpuid = TopologyFixtures.skylakeSPCommon
    cpuid.standardMaximum.eax = 0x1F
    cpuid.extendedTopologyV2 = [
      CPUIDLeaf(eax: 1, ebx: 2, ecx: 0x100), CPUIDLeaf(eax: 6, ebx: 48, ecx: 0x201),
      CPUIDLeaf(eax: 7, ebx: 96, ecx: 0x502),
    ]
    let layout = APICIDLayout(decoding: cpuid)
    XCTAssertEqual(layout.source, .extendedTopologyV2)
    XCTAssertEqual(layout.packageShift, 7)
  }

  func testWidthIsTheNextPowerOfTwo() {
    XCTAssertEqual(APICIDLayout.width(forCount: 0), 0)
    XCTAssertEqual(APICIDLayout.width(forCount: 1), 0)
    XCTAssertEqual(APICIDLayout.width(forCount: 2), 1)
    XCTAssertEqual(APICIDLayout.width(forCount: 3), 2)
    XCTAssertEqual(APICIDLayout.width(forCount: 24), 5)
    XCTAssertEqual(APICIDLayout.width(forCount: 64), 6)
  }
}
