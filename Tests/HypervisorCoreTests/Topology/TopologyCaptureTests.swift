import XCTest

@testable import HypervisorCore

final class TopologyCaptureTests: XCTestCase {
  /// A CPU answering from a table, recording what was asked.
  private final class FakeCPU {
    var leaves: [UInt64: CPUIDLeaf] = [:]
    var asked: [UInt64] = []
    func key(_ leaf: UInt32, _ subleaf: UInt32) -> UInt64 { UInt64(leaf) << 32 | UInt64(subleaf) }
    func read(_ leaf: UInt32, _ subleaf: UInt32) -> CPUIDLeaf {
      asked.append(key(leaf, subleaf))
      return leaves[key(leaf, subleaf)] ?? CPUIDLeaf()
    }
  }

  func testCaptureReadsSubleavesUntilTheTerminator() {
    let cpu = FakeCPU()
    let common = TopologyFixtures.skylakeSPCommon
    cpu.leaves[cpu.key(0, 0)] = common.standardMaximum
    cpu.leaves[cpu.key(1, 0)] = common.leaf1
    for (n, cache) in common.deterministicCaches.enumerated() {
      cpu.leaves[cpu.key(4, UInt32(n))] = cache
    }
    for (n, level) in common.extendedTopology.enumerated() {
      cpu.leaves[cpu.key(0xB, UInt32(n))] = level
    }
    cpu.leaves[cpu.key(0x8000_0000, 0)] = common.extendedMaximum
    cpu.leaves[cpu.key(0x8000_0001, 0)] = common.extendedLeaf1
    cpu.leaves[cpu.key(0x8000_0008, 0)] = common.addressSizes
    let snapshot = CPUIDSnapshot.capture(read: cpu.read)
    XCTAssertEqual(snapshot, common)
    XCTAssertTrue(cpu.asked.contains(cpu.key(4, 4)), "read up to the terminating subleaf")
    XCTAssertFalse(cpu.asked.contains(cpu.key(0x8000_001E, 0)), "no AMD leaves on Intel")
    XCTAssertFalse(cpu.asked.contains(cpu.key(0x1F, 0)), "maximum leaf 0x16")
  }

  func testCaptureIsBoundedWhenNoTerminatorComes() {
    let snapshot = CPUIDSnapshot.capture { leaf, subleaf in
      switch leaf {
      case 0: return CPUIDLeaf(eax: 0xB)
      case 0xB: return CPUIDLeaf(eax: 1, ebx: 1, ecx: 0x100 | subleaf)
      default: return CPUIDLeaf()
      }
    }
    XCTAssertEqual(snapshot.extendedTopology.count, Int(CPUIDSnapshot.maximumSubleaves))
  }

  func testCaptureReadsAMDLeavesWithTopologyExtensions() {
    let machine = TopologyFixtures.naples
    let recorded = machine.snapshots[5]
    let cpu = FakeCPU()
    cpu.leaves[cpu.key(0, 0)] = recorded.standardMaximum
    cpu.leaves[cpu.key(1, 0)] = recorded.leaf1
    cpu.leaves[cpu.key(0x8000_0000, 0)] = recorded.extendedMaximum
    cpu.leaves[cpu.key(0x8000_0001, 0)] = recorded.extendedLeaf1
    cpu.leaves[cpu.key(0x8000_0008, 0)] = recorded.addressSizes
    for (n, cache) in recorded.amdCaches.enumerated() {
      cpu.leaves[cpu.key(0x8000_001D, UInt32(n))] = cache
    }
    cpu.leaves[cpu.key(0x8000_001E, 0)] = recorded.amdTopology
    XCTAssertEqual(CPUIDSnapshot.capture(read: cpu.read), recorded)
  }
}
