import XCTest

@testable import FaultTolerance

/// Snapshots for policy tests: `nodes` healthy nodes with 4 CPUs and 4 GiB, one 1 GiB VM
/// "vmK" on each nodeK.
func cluster(
  _ count: Int, at time: Double, errors: [Int: [Int: UInt64]] = [:], dead: Set<Int> = []
) -> ClusterSnapshot {
  ClusterSnapshot(
    time: time,
    nodes: (0..<count).map { index in
      NodeSnapshot(
        name: "node\(index)", condition: dead.contains(index) ? .dead : .healthy, cpuCount: 4,
        totalMemory: 4 << 30, freeMemory: 3 << 30, correctedErrorsByBank: errors[index] ?? [:],
        vms: [VMPlacement(name: "vm\(index)", memoryBytes: 1 << 30, vcpus: 1)])
    })
}

final class PolicyTests: XCTestCase {
  func testThresholdCountsOneBankWithinTheWindow() {
    let policy = ThresholdPolicy(threshold: 3, windowSeconds: 600)
    XCTAssertEqual(policy.decide(cluster(3, at: 0, errors: [1: [0: 2, 5: 2]])), [])
    let actions = policy.decide(cluster(3, at: 60, errors: [1: [0: 2, 5: 3]]))
    XCTAssertEqual(actions.count, 1)
    guard case .migrate(let vm, let from, let to, let reason) = actions[0] else {
      return XCTFail("\(actions)")
    }
    XCTAssertEqual([vm, from, to], ["vm1", "node1", "node0"])
    XCTAssertTrue(reason.contains("bank 5"), reason)
  }

  func testThresholdForgetsErrorsOlderThanTheWindow() {
    let policy = ThresholdPolicy(threshold: 3, windowSeconds: 600)
    _ = policy.decide(cluster(2, at: 0, errors: [0: [1: 2]]))
    _ = policy.decide(cluster(2, at: 700, errors: [0: [1: 2]]))
    // 2 errors 700 s ago and 2 now: 2 in the window, not 4.
    XCTAssertEqual(policy.decide(cluster(2, at: 1400, errors: [0: [1: 4]])), [])
    XCTAssertEqual(policy.decide(cluster(2, at: 1460, errors: [0: [1: 5]])).count, 1)
  }

  func testRateReactsToABurstButNotToATrickle() {
    let burst = RatePolicy(errorsPerHour: 10, timeConstantSeconds: 600)
    _ = burst.decide(cluster(2, at: 0))
    XCTAssertEqual(burst.decide(cluster(2, at: 60, errors: [0: [0: 10]])).count, 1)
    // First seen: its 10 errors spread over one time constant (60/h), weighed 1 - e^-1.
    XCTAssertEqual(burst.rate(node: "node0", bank: 0), 60 * (1 - exp(-1)), accuracy: 1e-6)
    // One error an hour for ten hours: the average stays near 1/h.
    let trickle = RatePolicy(errorsPerHour: 10, timeConstantSeconds: 600)
    for hour in 0...10 {
      XCTAssertEqual(
        trickle.decide(cluster(2, at: Double(hour) * 3600, errors: [0: [0: UInt64(hour)]])), [])
    }
  }

  func testPeriodicCheckpointFiresEveryPeriodForEveryLiveVM() {
    let policy = PeriodicCheckpointPolicy(periodSeconds: 100)
    var fired: [Double] = []
    for time in stride(from: 0.0, through: 450, by: 25) {
      let actions = policy.decide(cluster(3, at: time, dead: [2]))
      if !actions.isEmpty {
        fired.append(time)
        XCTAssertEqual(actions.map(\.vm), ["vm0", "vm1"])
      }
    }
    XCTAssertEqual(fired, [100, 200, 300, 400])
  }

  func testTargetsAreHealthyWithRoomAndChosenDeterministically() {
    var snapshot = cluster(4, at: 0)
    snapshot.nodes[1].freeMemory = 5 << 30  // the most room
    snapshot.nodes[1].condition = .degraded  // but not healthy
    snapshot.nodes[3].freeMemory = 1 << 29  // too little
    let vm = VMPlacement(name: "x", memoryBytes: 1 << 30, vcpus: 1)
    // node0 and node2 tie on memory and CPUs: the name decides, then the room left.
    XCTAssertEqual(
      TargetSelection.targets(for: [vm, vm, vm], in: snapshot, excluding: []),
      ["node0", "node2", "node0"])
    XCTAssertEqual(
      TargetSelection.targets(for: [vm], in: snapshot, excluding: ["node0", "node2"]), [nil])
    let big = VMPlacement(name: "y", memoryBytes: 1 << 30, vcpus: 4)
    XCTAssertEqual(TargetSelection.targets(for: [big], in: snapshot, excluding: []), [nil])
  }

  func testTheCatalogMakesEveryShippedPolicyAndCombinations() throws {
    for name in PolicyCatalog.all {
      XCTAssertEqual(try PolicyCatalog.make(name).name, name)
    }
    XCTAssertThrowsError(try PolicyCatalog.make("clairvoyant")) {
      XCTAssertTrue("\($0)".contains("threshold, rate, periodic-checkpoint, none"))
    }
    XCTAssertThrowsError(try PolicyCatalog.make("rate+"))
  }
}
