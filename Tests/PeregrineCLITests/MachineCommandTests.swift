import XCTest

@testable import PeregrineCommands

/// The node-facing commands against fake nodes.
final class MachineCommandTests: XCTestCase {
  func machine(_ name: String, _ state: MachineState = .running, memory: UInt64 = 256 << 20)
    -> MachineSummary
  {
    MachineSummary(name: name, state: state, vcpus: 1, memory: memory, uptimeSeconds: 75)
  }

  func testListTextAndJSON() throws {
    let harness = try Harness(nodes: [
      "node0": FakeNode(machines: [machine("linux")]),
      "node1": FakeNode(machines: [machine("hello", .paused, memory: 16 << 20)]),
    ])
    XCTAssertEqual(harness.run("list"), 0)
    XCTAssertEqual(
      harness.output,
      """
      NAME   NODE   STATE    VCPUS  MEMORY   UPTIME
      linux  node0  running  1      256 MiB  1m15s
      hello  node1  paused   1      16 MiB   1m15s

      """)
    XCTAssertEqual(harness.run("list", "--json"), 0)
    let machines = try XCTUnwrap(try harness.json()["machines"] as? [[String: Any]])
    XCTAssertEqual(machines.map { $0["name"] as? String }, ["linux", "hello"])
    XCTAssertEqual(machines.map { $0["state"] as? String }, ["running", "paused"])
    XCTAssertEqual(machines.first?["uptime_seconds"] as? Double, 75)
  }

  func testAnUnreachableNodeIsNamedAndTheOthersStillListed() throws {
    let harness = try Harness(nodes: [
      "node0": FakeNode(machines: [machine("linux")]), "node1": FakeNode(),
    ])
    harness.nodes["node1"]!.failure = .unreachable(node: "node1", waitedSeconds: 2)
    XCTAssertEqual(harness.run("list"), 69)
    XCTAssertTrue(harness.output.contains("linux  node0"))
    XCTAssertTrue(harness.errors.contains("node node1 did not answer within 2.0 s"), harness.errors)
  }

  func testNodes() throws {
    let harness = try Harness(nodes: ["node0": FakeNode(machines: [machine("linux")])])
    XCTAssertEqual(harness.run("nodes"), 0)
    XCTAssertTrue(
      harness.output.contains(
        "node0  127.0.0.1:47100 (10.0.2.15/24)  svm      2     1 package, 2 cores, 1 thread per core  512 MiB of 1 GiB  1 (linux)  ok"
      ), harness.output)
    XCTAssertEqual(harness.run("nodes", "--json"), 0)
    let node = try XCTUnwrap((try harness.json()["nodes"] as? [[String: Any]])?.first)
    XCTAssertEqual((node["report"] as? [String: Any])?["free_memory"] as? Int, 512 << 20)
    XCTAssertEqual((node["report"] as? [String: Any])?["refused_requests"] as? Int, 3)
    // An emulator that has gone: reported without asking it anything.
    harness.running.removeAll()
    XCTAssertEqual(harness.run("nodes"), 69)
    XCTAssertTrue(harness.output.contains("not running"))
  }

  func testADegradedNodeShowsItsReasons() throws {
    let node = FakeNode()
    node.report.health = "degraded"
    node.report.healthProblems = ["only 12 MiB of memory free", "1 VM ended in failure since boot"]
    let harness = try Harness(nodes: ["node0": node])
    XCTAssertEqual(harness.run("nodes"), 0)
    XCTAssertTrue(
      harness.output.contains(
        "degraded: only 12 MiB of memory free; 1 VM ended in failure since boot"),
      harness.output)
    XCTAssertEqual(harness.run("nodes", "--json"), 0)
    let row = try XCTUnwrap((try harness.json()["nodes"] as? [[String: Any]])?.first)
    XCTAssertEqual(
      (row["report"] as? [String: Any])?["health_problems"] as? [String],
      ["only 12 MiB of memory free", "1 VM ended in failure since boot"])
  }

  func testStatusWithAndWithoutState() throws {
    let harness = try Harness(nodes: ["node0": FakeNode(machines: [machine("linux")])])
    XCTAssertEqual(harness.run("status", "linux"), 0)
    XCTAssertEqual(
      harness.output,
      """
      linux on node0: running, up 1m15s
        memory  256 MiB
        vcpus   1
          vcpu 0  cpu 1  running
        exits   1234
          io     1200
          cpuid  34
        refused MSRs
          0xc0010114 write  2

      """)
    XCTAssertEqual(harness.run("status", "linux", "--state"), 0)
    XCTAssertTrue(
      harness.output.contains(
        "  vcpu 0\n    rip  0xffffffff81000000\n    cs   0x0010\n  serial\n    ier  0x01\n"),
      harness.output)
    XCTAssertEqual(harness.nodes["node0"]!.requests.last, "status linux state")
    XCTAssertEqual(harness.run("status", "linux", "--json"), 0)
    let json = try harness.json()
    XCTAssertEqual(json["node"] as? String, "node0")
    let status = try XCTUnwrap(json["status"] as? [String: Any])
    XCTAssertEqual(
      (status["refused_ms_rs"] as? [[String: Any]])?.first?["msr"] as? Int, 0xC001_0114)
    XCTAssertEqual(harness.run("status", "--json"), 0)
    XCTAssertEqual((try harness.json()["machines"] as? [Any])?.count, 1)
  }

  func testPauseUnpauseDestroy() throws {
    let node = FakeNode(machines: [machine("linux")])
    let harness = try Harness(nodes: ["node0": FakeNode(), "node1": node])
    XCTAssertEqual(harness.run("pause", "linux"), 0)
    XCTAssertEqual(harness.output, "paused linux on node1\n")
    XCTAssertEqual(node.machines.first?.state, .paused)
    XCTAssertEqual(harness.run("unpause", "linux", "--json"), 0)
    XCTAssertEqual(try harness.json()["action"] as? String, "unpaused")
    XCTAssertEqual(node.machines.first?.state, .running)
    XCTAssertEqual(harness.run("destroy", "linux"), 0)
    XCTAssertTrue(node.machines.isEmpty)
    XCTAssertEqual(harness.run("destroy", "linux"), 67)
    XCTAssertTrue(harness.errors.contains("no VM named 'linux' on any node"))
  }

  func testRefusalsAndAuthentication() throws {
    let node = FakeNode(machines: [machine("linux")])
    let harness = try Harness(nodes: ["node0": node])
    node.failure = .authenticationRefused(node: "node0")
    XCTAssertEqual(harness.run("list"), 77)
    XCTAssertTrue(harness.errors.contains("refused the request's authentication"))
    XCTAssertTrue(harness.errors.contains("cluster.key"))
    node.failure = .protocolMismatch(node: "node0", detail: "version 2")
    XCTAssertEqual(harness.run("list"), 76)
  }

  func testCreatePlacesByFreeMemoryAndShowsProgress() throws {
    let small = FakeNode(freeMemory: 64 << 20)
    let large = FakeNode(freeMemory: 900 << 20)
    let harness = try Harness(nodes: ["node0": small, "node1": large])
    _ = try harness.writeFile("vmlinuz", String(repeating: "k", count: 10_000))
    _ = try harness.writeFile("initrd", String(repeating: "i", count: 2_000))
    let path = try harness.writeFile(
      "web.xml",
      "<profile><name>web</name><memory>256</memory><kernel>vmlinuz</kernel><initrd>initrd</initrd></profile>"
    )
    harness.environment.errorsIsTerminal = true
    XCTAssertEqual(harness.run("create", path), 0, harness.errors)
    XCTAssertEqual(large.machines.map(\.name), ["web"])
    XCTAssertEqual(large.receivedFiles, ["kernel": 10_000, "initrd": 2_000])
    XCTAssertTrue(small.machines.isEmpty)
    XCTAssertTrue(
      harness.output.hasPrefix("created web on node1: running, 256 MiB, 1 vCPU; sent 11.7 KiB"),
      harness.output)
    XCTAssertTrue(
      harness.errors.contains("initrd  [========================]  100%  11.7 KiB/11.7 KiB"),
      harness.errors)

    // The same name again: refused before anything is sent.
    XCTAssertEqual(harness.run("create", path), 77)
    XCTAssertTrue(harness.errors.contains("a VM named 'web' already runs on node1"))
    XCTAssertEqual(large.requests.filter { $0.hasPrefix("create") }.count, 1)

    // --node places it; too little memory there is refused with the numbers.
    let other = try harness.writeFile(
      "web2.xml", "<profile><name>web2</name><memory>256</memory><kernel>vmlinuz</kernel></profile>"
    )
    XCTAssertEqual(harness.run("create", other, "--node", "node0"), 77)
    XCTAssertTrue(
      harness.errors.contains("needs 256 MiB and node0 has 64 MiB free"), harness.errors)
    XCTAssertEqual(harness.run("create", other, "--node", "node9"), 64)
    XCTAssertTrue(harness.errors.contains("there is no node 'node9'"))
  }

  func testCreateChecksCPUsAgainstTheNode() throws {
    let node0 = FakeNode(freeMemory: 900 << 20)
    let node1 = FakeNode(freeMemory: 100 << 20)
    node1.report.cpuCount = 4
    let harness = try Harness(nodes: ["node0": node0, "node1": node1])
    _ = try harness.writeFile("hello.bin", "flat")
    let gang = try harness.writeFile(
      "gang.xml",
      "<profile><name>g</name><memory>16</memory><vcpus>4</vcpus><flat>hello.bin</flat><sched>gang</sched></profile>"
    )
    // node0 has more free memory but only 2 CPUs: the 4-vCPU gang VM goes to node1.
    XCTAssertEqual(harness.run("create", gang), 0, harness.errors)
    XCTAssertEqual(node1.machines.map(\.name), ["g"])
    let gang2 = try harness.writeFile(
      "gang2.xml",
      "<profile><name>g2</name><memory>16</memory><vcpus>4</vcpus><flat>hello.bin</flat><sched>gang</sched></profile>"
    )
    XCTAssertEqual(harness.run("create", gang2, "--node", "node0"), 77)
    XCTAssertTrue(
      harness.errors.contains(
        "VM 'g2' has 4 gang vCPUs, each needing a CPU of its own, and node0 has 2 CPUs"),
      harness.errors)
    let pinned = try harness.writeFile(
      "pinned.xml",
      "<profile><name>p</name><memory>16</memory><vcpus>2</vcpus><flat>hello.bin</flat><sched pin=\"0,7\">pinned</sched></profile>"
    )
    XCTAssertEqual(harness.run("create", pinned, "--node", "node0"), 77)
    XCTAssertTrue(
      harness.errors.contains("pins a vCPU to CPU 7, and node0 has CPUs 0 to 1"), harness.errors)
    let wide = try harness.writeFile(
      "wide.xml",
      "<profile><name>w</name><memory>16</memory><vcpus>8</vcpus><flat>hello.bin</flat><sched>pinned</sched></profile>"
    )
    XCTAssertEqual(harness.run("create", wide, "--json"), 77)
    XCTAssertTrue(
      harness.errors.contains(
        "no node can take VM 'w': VM 'w' has 8 pinned vCPUs, each needing a CPU of its own, and node0 has 2 CPUs;"
      ), harness.errors)
    let error = try XCTUnwrap(try harness.json()["error"] as? [String: Any])
    XCTAssertEqual(error["status"] as? Int, 77)
    XCTAssertEqual(error["kind"] as? String, "refused")
    // Shared vCPUs may outnumber the CPUs.
    let shared = try harness.writeFile(
      "shared.xml",
      "<profile><name>s</name><memory>16</memory><vcpus>8</vcpus><flat>hello.bin</flat></profile>")
    XCTAssertEqual(harness.run("create", shared, "--node", "node0"), 0, harness.errors)
  }

  func testCreateThenFollowTheConsole() throws {
    let node = FakeNode()
    node.console = Array("Linux version\n".utf8)
    node.consoleEndsAt = node.console.count
    let harness = try Harness(nodes: ["node0": node])
    _ = try harness.writeFile("vmlinuz", "k")
    let path = try harness.writeFile(
      "web.xml", "<profile><name>web</name><memory>16</memory><kernel>vmlinuz</kernel></profile>")
    XCTAssertEqual(harness.run("create", path, "--console"), 0, harness.errors)
    XCTAssertTrue(harness.output.hasPrefix("created web on node0"))
    XCTAssertEqual(String(decoding: harness.consoleBytes, as: UTF8.self), "Linux version\n")
  }

  func testJSONErrorsForScripts() throws {
    let harness = try Harness(nodes: ["node0": FakeNode()])
    XCTAssertEqual(harness.run("pause", "ghost", "--json"), 67)
    let error = try XCTUnwrap(try harness.json()["error"] as? [String: Any])
    XCTAssertEqual(error["kind"] as? String, "no_such_machine")
    XCTAssertEqual(error["message"] as? String, "no VM named 'ghost' on any node")
  }

  func testCreateWithAnInvalidProfileSendsNothing() throws {
    let node = FakeNode()
    let harness = try Harness(nodes: ["node0": node])
    let path = try harness.writeFile(
      "bad.xml", "<profile><name>x</name><memory>16</memory><kernel>nothere</kernel></profile>")
    XCTAssertEqual(harness.run("create", path), 65)
    XCTAssertTrue(node.requests.isEmpty)
  }

  func testCreateACluster() throws {
    let node0 = FakeNode()
    let node1 = FakeNode()
    let harness = try Harness(nodes: ["node0": node0, "node1": node1])
    _ = try harness.writeFile("hello.bin", "flat")
    _ = try harness.writeFile(
      "hello.xml", "<profile><name>hello</name><memory>16</memory><flat>hello.bin</flat></profile>")
    let path = try harness.writeFile(
      "lab.xml",
      "<cluster><name>lab</name><vm node=\"node1\" file=\"hello.xml\" name=\"a\"/><vm node=\"node1\" file=\"hello.xml\" name=\"b\"/></cluster>"
    )
    XCTAssertEqual(harness.run("create", path, "--json"), 0, harness.errors)
    XCTAssertEqual(node1.machines.map(\.name), ["a", "b"])
    XCTAssertEqual(
      (try harness.json()["created"] as? [[String: Any]])?.map { $0["node"] as? String },
      ["node1", "node1"])
  }

  func testATransferCutOffSaysHowFarItGot() throws {
    let node = FakeNode()
    node.cutTransfer = true
    let harness = try Harness(nodes: ["node0": node])
    _ = try harness.writeFile("vmlinuz", String(repeating: "k", count: 4096))
    let path = try harness.writeFile(
      "web.xml", "<profile><name>web</name><memory>16</memory><kernel>vmlinuz</kernel></profile>")
    XCTAssertEqual(harness.run("create", path), 69)
    XCTAssertTrue(harness.errors.contains("stopped after 2 KiB of 4 KiB"), harness.errors)
    XCTAssertTrue(harness.errors.contains("discarded"))
    XCTAssertTrue(node.machines.isEmpty)
  }

  func testConsoleStreamsUntilTheVMEnds() throws {
    let node = FakeNode(machines: [machine("linux")])
    node.console = Array("Linux version 6.1\nhello\n".utf8)
    node.consoleEndsAt = node.console.count
    let harness = try Harness(nodes: ["node0": node])
    XCTAssertEqual(harness.run("console", "linux"), 0)
    XCTAssertEqual(
      String(decoding: harness.consoleBytes, as: UTF8.self), "Linux version 6.1\nhello\n")
    XCTAssertTrue(harness.errors.contains("[linux has ended]"))
    XCTAssertEqual(node.requests.filter { $0.hasPrefix("console") }.count, 5, "5 bytes a read")
  }

  func testTheConsoleOfAnEndedVMIsStillRead() throws {
    let node = FakeNode(machines: [machine("web")])
    node.console = Array("bye\n".utf8)
    node.consoleEndsAt = node.console.count
    node.endedMachines = ["hello"]
    let harness = try Harness(nodes: ["node0": node])
    XCTAssertEqual(harness.run("console", "hello"), 0, harness.errors)
    XCTAssertEqual(String(decoding: harness.consoleBytes, as: UTF8.self), "bye\n")
    XCTAssertTrue(harness.errors.contains("[hello has ended]"), harness.errors)
    XCTAssertEqual(harness.run("console", "ghost"), 67, "neither listed nor kept")
    XCTAssertTrue(harness.errors.contains("no VM named 'ghost'"), harness.errors)
  }

  func testConsoleStopsOnCtrlC() throws {
    let node = FakeNode(machines: [machine("linux")])
    node.console = Array("boot\n".utf8)
    let harness = try Harness(nodes: ["node0": node])
    harness.interruptAfterSleeps = 3
    XCTAssertEqual(harness.run("console", "linux", "--json"), 0)
    let records = harness.output.split(separator: "\n")
    XCTAssertEqual(records, [#"{"dropped_bytes":0,"offset":0,"text":"boot\n"}"#])
    XCTAssertEqual(harness.sleeps, 3, "polls while there is nothing new, until interrupted")
  }
}
