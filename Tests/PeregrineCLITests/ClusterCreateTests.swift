import XCTest

@testable import PeregrineCommands
@testable import PeregrineProfiles

/// Creating a virtual cluster over several nodes: the placement policy, the rollback of a
/// create that fails midway, `destroy CLUSTER`, and what nodes cannot run yet.
final class ClusterCreateTests: XCTestCase {
  func member(_ name: String, memory: UInt64, vcpus: Int = 1, node: String? = nil)
    -> ClusterProfile.Member
  {
    var profile = MachineProfile(
      name: name,
      boot: .flat(image: "x.bin", loadAddress: 0x1000, entrySegment: 0, entryOffset: 0x1000))
    profile.memoryBytes = memory
    profile.vcpus = vcpus
    return ClusterProfile.Member(profile: profile, node: node)
  }

  func capacity(cpus: Int, free: UInt64, running: Int = 0) -> Placement.Capacity {
    Placement.Capacity(
      NodeReport(
        cpuCount: cpus, topology: "", totalMemory: 1 << 30, freeMemory: free,
        machines: (0..<running).map { "vm\($0)" }, health: "ok", uptimeSeconds: 0, version: "",
        refusedRequests: 0))
  }

  // MARK: Placement (pure)

  func testEqualNodesGetOneVMEachInTurn() throws {
    let nodes = ["node0", "node1"]
    let capacities = [
      "node0": capacity(cpus: 1, free: 512 << 20), "node1": capacity(cpus: 1, free: 512 << 20),
    ]
    let chosen = try Placement.choose(
      [
        member("a", memory: 16 << 20), member("b", memory: 16 << 20), member("c", memory: 16 << 20),
      ],
      defaultNode: nil, nodes: nodes, capacities: capacities)
    XCTAssertEqual(chosen, ["node0", "node1", "node0"])
  }

  func testFreeMemoryFirstThenFreeCPUs() throws {
    let nodes = ["node0", "node1", "node2"]
    // node2 has the most memory; node0 and node1 tie on memory, node1 has more free CPUs.
    let capacities = [
      "node0": capacity(cpus: 2, free: 256 << 20, running: 2),
      "node1": capacity(cpus: 2, free: 256 << 20),
      "node2": capacity(cpus: 1, free: 300 << 20),
    ]
    let chosen = try Placement.choose(
      [member("a", memory: 64 << 20), member("b", memory: 8 << 20, vcpus: 2)],
      defaultNode: nil, nodes: nodes, capacities: capacities)
    // a: node2 (300 MiB); b: node1 (256 MiB and 2 free CPUs beat node0's 256 MiB and 0,
    // and node2's 236 MiB left).
    XCTAssertEqual(chosen, ["node2", "node1"])
  }

  func testExplicitNodesAreHonouredAndCountedForTheOthers() throws {
    let capacities = [
      "node0": capacity(cpus: 1, free: 300 << 20), "node1": capacity(cpus: 1, free: 200 << 20),
    ]
    let chosen = try Placement.choose(
      [member("a", memory: 200 << 20, node: "node0"), member("b", memory: 64 << 20)],
      defaultNode: nil, nodes: ["node0", "node1"], capacities: capacities)
    XCTAssertEqual(chosen, ["node0", "node1"])
    // --node applies to the VMs the profile leaves unplaced.
    XCTAssertEqual(
      try Placement.choose(
        [member("a", memory: 16 << 20), member("b", memory: 16 << 20, node: "node0")],
        defaultNode: "node1", nodes: ["node0", "node1"], capacities: capacities),
      ["node1", "node0"])
  }

  func testAClusterThatDoesNotFitNamesTheVMAndWhy() {
    let capacities = [
      "node0": capacity(cpus: 1, free: 256 << 20), "node1": capacity(cpus: 1, free: 256 << 20),
    ]
    // Two fit, the third finds each node's memory already taken by the first two.
    XCTAssertThrowsError(
      try Placement.choose(
        [
          member("a", memory: 200 << 20), member("b", memory: 200 << 20),
          member("c", memory: 100 << 20),
        ],
        defaultNode: nil, nodes: ["node0", "node1"], capacities: capacities)
    ) { error in
      let error = error as! CLIError
      XCTAssertEqual(error.status, .refused)
      XCTAssertTrue(error.message.hasPrefix("no node can take VM 'c'"), error.message)
      XCTAssertTrue(error.message.contains("node0 has 56 MiB free"), error.message)
      XCTAssertTrue(error.message.contains("nothing was created"), error.message)
    }
    XCTAssertThrowsError(
      try Placement.choose(
        [member("g", memory: 16 << 20, node: "node7")], defaultNode: nil,
        nodes: ["node0", "node1"], capacities: capacities)
    ) { error in
      XCTAssertEqual((error as! CLIError).status, .usage)
      XCTAssertTrue((error as! CLIError).message.contains("node7"))
    }
  }

  // MARK: create CLUSTER.xml against fake nodes

  func writeCluster(_ harness: Harness, _ vms: String) throws -> String {
    _ = try harness.writeFile("hello.bin", "flat guest")
    _ = try harness.writeFile(
      "hello.xml", "<profile><name>hello</name><memory>16</memory><flat>hello.bin</flat></profile>")
    return try harness.writeFile("lab.xml", "<cluster><name>lab</name>\(vms)</cluster>")
  }

  func testAClusterSpreadsOverNodesAndIsDestroyedByName() throws {
    let node0 = FakeNode()
    let node1 = FakeNode()
    let harness = try Harness(nodes: ["node0": node0, "node1": node1])
    let path = try writeCluster(
      harness, "<vm file=\"hello.xml\" name=\"a\"/><vm file=\"hello.xml\" name=\"b\"/>")
    XCTAssertEqual(harness.run("create", path), 0, harness.errors)
    XCTAssertEqual(node0.machines.map(\.name), ["a"])
    XCTAssertEqual(node1.machines.map(\.name), ["b"])
    XCTAssertEqual(harness.run("list", "--json"), 0)
    let rows = try harness.json()["machines"] as? [[String: Any]] ?? []
    XCTAssertEqual(rows.map { "\($0["name"]!)@\($0["node"]!)" }, ["a@node0", "b@node1"])

    XCTAssertEqual(harness.run("destroy", "lab"), 0, harness.errors)
    XCTAssertEqual(
      harness.output,
      "destroyed a on node0\ndestroyed b on node1\ncluster lab: 2 of 2 VM(s) destroyed\n")
    XCTAssertTrue(node0.machines.isEmpty)
    XCTAssertTrue(node1.machines.isEmpty)
    XCTAssertEqual(node0.report.freeMemory, 512 << 20)
    XCTAssertEqual(try harness.environment.state.readClusters().clusters, [])
    // Once forgotten, the name is neither a cluster nor a VM.
    XCTAssertEqual(harness.run("destroy", "lab"), 67)
    XCTAssertEqual(harness.run("destroy", "--cluster", "lab"), 67)
  }

  func testDestroyAClusterWhoseVMsEndedOrAreShadowedByAVM() throws {
    let node0 = FakeNode()
    let harness = try Harness(nodes: ["node0": node0])
    let path = try writeCluster(
      harness, "<vm file=\"hello.xml\" name=\"a\"/><vm file=\"hello.xml\" name=\"lab\"/>")
    XCTAssertEqual(harness.run("create", path), 0, harness.errors)
    // A VM named like the cluster comes first; --cluster says which is meant.
    XCTAssertEqual(harness.run("destroy", "lab"), 0, harness.errors)
    XCTAssertEqual(node0.machines.map(\.name), ["a"])
    XCTAssertEqual(harness.run("destroy", "--cluster", "lab", "--json"), 0, harness.errors)
    let report = try harness.json()
    XCTAssertEqual(report["already_gone"] as? [String], ["lab"])
    XCTAssertEqual((report["destroyed"] as? [[String: String]])?.first?["name"], "a")
    XCTAssertTrue(node0.machines.isEmpty)
  }

  func testAClusterThatDoesNotFitCreatesNothing() throws {
    let node0 = FakeNode(freeMemory: 20 << 20)
    let node1 = FakeNode(freeMemory: 20 << 20)
    let harness = try Harness(nodes: ["node0": node0, "node1": node1])
    let path = try writeCluster(
      harness,
      "<vm file=\"hello.xml\" name=\"a\"/><vm file=\"hello.xml\" name=\"b\"/><vm file=\"hello.xml\" name=\"c\"/>"
    )
    XCTAssertEqual(harness.run("create", path), 77)
    XCTAssertTrue(harness.errors.contains("no node can take VM 'c'"), harness.errors)
    XCTAssertTrue(harness.errors.contains("nothing was created"), harness.errors)
    XCTAssertEqual((node0.requests + node1.requests).filter { $0.hasPrefix("create") }, [])
  }

  func testACreateThatFailsMidwayDestroysWhatItMade() throws {
    let node0 = FakeNode()
    let node1 = FakeNode()
    node1.createFailure = .refused(node: "node1", reason: "out of VM identities")
    let harness = try Harness(nodes: ["node0": node0, "node1": node1])
    let path = try writeCluster(
      harness,
      "<vm node=\"node0\" file=\"hello.xml\" name=\"a\"/><vm node=\"node0\" file=\"hello.xml\" name=\"b\"/><vm node=\"node1\" file=\"hello.xml\" name=\"c\"/>"
    )
    XCTAssertEqual(harness.run("create", path), 77)
    XCTAssertTrue(node0.machines.isEmpty)
    XCTAssertEqual(node0.report.freeMemory, 512 << 20)
    XCTAssertEqual(
      node0.requests.filter { !$0.hasPrefix("describe") },
      ["create a", "create b", "destroy b", "destroy a"])
    XCTAssertTrue(harness.errors.contains("creating VM 'c' on node1 failed"), harness.errors)
    XCTAssertTrue(harness.errors.contains("destroyed a on node0"), harness.errors)
    XCTAssertTrue(harness.errors.contains("out of VM identities"), harness.errors)
    XCTAssertTrue(harness.errors.contains("nothing this create made is left"), harness.errors)
    XCTAssertEqual(try harness.environment.state.readClusters().clusters, [])
  }

  func testARollbackThatCannotDestroySaysWhatIsLeft() throws {
    let node0 = FakeNode()
    let node1 = FakeNode()
    node0.destroyFailure = .unreachable(node: "node0", waitedSeconds: 2)
    node1.cutTransfer = true
    let harness = try Harness(nodes: ["node0": node0, "node1": node1])
    let path = try writeCluster(
      harness,
      "<vm node=\"node0\" file=\"hello.xml\" name=\"a\"/><vm node=\"node1\" file=\"hello.xml\" name=\"b\"/>"
    )
    XCTAssertEqual(harness.run("create", path), 1)
    XCTAssertEqual(node0.machines.map(\.name), ["a"])
    XCTAssertTrue(harness.errors.contains("could not destroy a on node0"), harness.errors)
    XCTAssertTrue(harness.errors.contains("peregrine destroy a"), harness.errors)
  }

  // MARK: what nodes cannot run yet

  func testDisksAndNICsValidateWithoutAWarning() throws {
    let harness = try Harness(nodes: ["node0": FakeNode()])
    _ = try harness.writeFile("hello.bin", "flat guest")
    _ = try harness.writeFile("disk.img", "disk")
    let path = try harness.writeFile(
      "seed.xml",
      """
      <profile><name>test</name><memory>16</memory><flat>hello.bin</flat>
      <image size="500">disk.img</image><nic1><mac>00:02:03:04:05:06</mac></nic1></profile>
      """)
    XCTAssertEqual(harness.run("validate", path), 0, harness.errors)
    XCTAssertFalse(harness.errors.contains("warning"), harness.errors)
    XCTAssertEqual(harness.run("validate", path, "--json"), 0)
    XCTAssertEqual((try harness.json()["warnings"] as? [String])?.count, 0)
  }
}
