import XCTest

@testable import PeregrineCommands

/// `node up` and `node down` with a fake launcher (no emulator runs).
final class NodeCommandTests: XCTestCase {
  func kernel(_ harness: Harness) throws -> String {
    let elf = try harness.writeFile("peregrine.elf", "elf")
    _ = try harness.writeFile("peregrine.sym", "sym")
    return elf
  }

  func testUpMakesAKeyBootMediaAndNodes() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    XCTAssertEqual(
      harness.run("node", "up", "--count", "3", "--kernel", elf, "--wait", "0"), 0, harness.errors)
    // The key: 64 hex digits, mode 0600.
    let keyPath = harness.environment.state.keyFile.path
    let keyText = try String(contentsOfFile: keyPath, encoding: .utf8)
    let key = try XCTUnwrap(ClusterKey(hex: keyText))
    let mode = try XCTUnwrap(
      FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int)
    XCTAssertEqual(mode & 0o777, 0o600)
    // Each node's grub.cfg carries the key and the address.
    XCTAssertEqual(harness.grubConfigurations.count, 3)
    for configuration in harness.grubConfigurations {
      XCTAssertTrue(
        configuration.contains(
          "multiboot2 /boot/peregrine.elf loglevel=info cluster_key=\(key.hex) ip=10.0.2.15/24 gw=10.0.2.2\n"
        ), configuration)
      XCTAssertTrue(configuration.contains("module2 /boot/peregrine.sym symbols"))
    }
    // Three QEMUs, distinct host ports (47101 is taken, so node1 gets the next free one).
    XCTAssertEqual(harness.spawned.count, 3)
    XCTAssertEqual(
      harness.spawned.map(\.program), Array(repeating: "/usr/bin/qemu-system-x86_64", count: 3))
    let table = try harness.environment.state.readNodes()
    XCTAssertEqual(table.nodes.map(\.name), ["node0", "node1", "node2"])
    XCTAssertEqual(table.nodes.map(\.hostPort), [47100, 47102, 47103])
    XCTAssertTrue(
      harness.spawned[1].arguments.contains(
        "user,id=mgmt,net=10.0.2.0/24,hostfwd=udp:127.0.0.1:47102-10.0.2.15:7100"))
    XCTAssertTrue(harness.output.contains("made a cluster key"))

    // Again: nothing new is started, the key is kept.
    XCTAssertEqual(harness.run("node", "up", "--count", "3", "--kernel", elf, "--wait", "0"), 0)
    XCTAssertEqual(harness.spawned.count, 3)
    XCTAssertTrue(harness.output.contains("node2 is already up"))
    XCTAssertEqual(try String(contentsOfFile: keyPath, encoding: .utf8), keyText)

    // node1's emulator died: only it starts again.
    harness.running.remove(table.nodes[1].pid)
    XCTAssertEqual(
      harness.run("node", "up", "--count", "3", "--kernel", elf, "--wait", "0", "--json"), 0)
    XCTAssertEqual(harness.spawned.count, 4)
    XCTAssertEqual(try harness.json()["restarted"] as? [String], ["node1"])

    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertEqual(harness.output, "stopped node0\nstopped node1\nstopped node2\n")
    XCTAssertEqual(harness.stopped.count, 3)
    XCTAssertTrue(try harness.environment.state.readNodes().nodes.isEmpty)
    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertEqual(harness.output, "no nodes are up\n")
    XCTAssertEqual(harness.stopped.count, 3)
  }

  /// A port free when picked but bound by someone else before QEMU's hostfwd: that QEMU
  /// exits saying so, and its node starts again on the next free port (seen when two
  /// integration cases ran `node up` at the same moment).
  func testAHostPortLostToAnotherNodeUpIsPickedAgain() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    let spawn = harness.environment.launcher.spawn
    var lost = 0
    harness.environment.launcher.spawn = { program, arguments, log in
      let pid = try spawn(program, arguments, log)
      if arguments.contains(where: { $0.contains("hostfwd=udp:127.0.0.1:47100-") }) {
        lost += 1
        harness.running.remove(pid)
        _ = FileManager.default.createFile(
          atPath: log,
          contents: Data(
            "qemu-system-x86_64: -netdev user,id=mgmt,net=10.0.2.0/24,hostfwd=udp:127.0.0.1:47100-10.0.2.15:7100: Could not set up host forwarding rule 'udp:127.0.0.1:47100-10.0.2.15:7100'\n"
              .utf8))
      }
      return pid
    }
    XCTAssertEqual(
      harness.run("node", "up", "--count", "2", "--kernel", elf, "--wait", "0"), 0, harness.errors)
    XCTAssertEqual(lost, 1)
    XCTAssertEqual(harness.spawned.count, 3)
    let table = try harness.environment.state.readNodes()
    XCTAssertEqual(table.nodes.map(\.name), ["node0", "node1"])
    // node1 took 47102 (47101 is the fake's busy port); node0 the next after them.
    XCTAssertEqual(table.nodes.map(\.hostPort), [47103, 47102])
    XCTAssertTrue(table.nodes.allSatisfy { harness.running.contains($0.pid) })

    // Any other early exit is still an error, with what the emulator said.
    let other = try Harness()
    let otherElf = try kernel(other)
    let otherSpawn = other.environment.launcher.spawn
    other.environment.launcher.spawn = { program, arguments, log in
      let pid = try otherSpawn(program, arguments, log)
      other.running.remove(pid)
      _ = FileManager.default.createFile(
        atPath: log, contents: Data("qemu-system-x86_64: no such ROM\n".utf8))
      return pid
    }
    XCTAssertEqual(other.run("node", "up", "--count", "1", "--kernel", otherElf, "--wait", "0"), 1)
    XCTAssertTrue(other.errors.contains("exited right after starting"), other.errors)
    XCTAssertTrue(other.errors.contains("its emulator said: qemu-system-x86_64: no such ROM"))
    XCTAssertEqual(other.spawned.count, 1)
  }

  func testDownForgetsNodesWhoseEmulatorIsGoneWithoutSignallingThem() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    XCTAssertEqual(harness.run("node", "up", "--kernel", elf, "--wait", "0"), 0)
    harness.running.removeAll()  // the pid now belongs to nobody (or to another program)
    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertEqual(harness.output, "node0 was not running; forgotten\n")
    XCTAssertTrue(harness.stopped.isEmpty)
  }

  func testVMXNodesRunBochsWithAForwardedPort() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    XCTAssertEqual(
      harness.run(
        "node", "up", "--backend", "vmx", "--kernel", elf, "--wait", "0", "--memory", "512M"), 0,
      harness.errors)
    XCTAssertEqual(harness.spawned.first?.program, "/usr/bin/bochs")
    let directory = harness.environment.state.nodeDirectory("node0").path
    let rc = try String(contentsOfFile: directory + "/bochsrc", encoding: .utf8)
    XCTAssertTrue(rc.contains("megs: 512\n"))
    XCTAssertTrue(rc.contains("cpu: model=corei7_skylake_x, count=2"))
    XCTAssertTrue(
      rc.contains(
        "e1000: enabled=1, mac=52:54:00:50:00:00, ethmod=slirp, script=\(directory)/slirp.conf"))
    let slirp = try String(contentsOfFile: directory + "/slirp.conf", encoding: .utf8)
    XCTAssertTrue(slirp.contains("hostfwd = udp:127.0.0.1:47100-10.0.2.15:7100"))
    // One backend per cluster.
    XCTAssertEqual(harness.run("node", "up", "--count", "2", "--kernel", elf, "--wait", "0"), 64)
    XCTAssertTrue(harness.errors.contains("node0 is up as a vmx node"))
  }

  func testUpWaitsForTheNodesToAnswer() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    harness.environment.connector = FakeConnector(nodes: ["node0": FakeNode()])
    XCTAssertEqual(harness.run("node", "up", "--kernel", elf, "--json"), 0, harness.errors)
    XCTAssertEqual(try harness.json()["answered"] as? [String], ["node0"])

    // A node that never answers: a timeout that says so, and where its log is.
    XCTAssertEqual(harness.run("node", "down"), 0)
    harness.environment.connector = FakeConnector(nodes: [:])
    XCTAssertEqual(harness.run("node", "up", "--kernel", elf, "--wait", "5"), 69)
    XCTAssertTrue(
      harness.errors.contains("node0 did not answer within 5.0 s of starting"), harness.errors)
    XCTAssertTrue(harness.errors.contains("serial.log"))
    XCTAssertFalse(harness.errors.contains("e1000"))
    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertEqual(harness.run("node", "up", "--kernel", elf, "--backend", "vmx"), 69)
    XCTAssertTrue(
      harness.errors.contains("node0 did not answer within 10m0s of starting"), harness.errors)
    XCTAssertTrue(harness.errors.contains("Bochs' e1000 NIC"))

    // Without a protocol client, it says it cannot wait.
    XCTAssertEqual(harness.run("node", "down"), 0)
    harness.environment.connector = UnwiredConnector()
    XCTAssertEqual(harness.run("node", "up", "--kernel", elf), 0)
    XCTAssertTrue(harness.errors.contains("did not wait"))
  }

  func testAMissingKernelOrEmulator() throws {
    let harness = try Harness()
    XCTAssertEqual(harness.run("node", "up", "--kernel", "/nonexistent/peregrine.elf"), 66)
    XCTAssertTrue(harness.errors.contains("make kernel"))
    harness.environment.launcher.findProgram = { _ in nil }
    let elf = try kernel(harness)
    XCTAssertEqual(harness.run("node", "up", "--kernel", elf), 1)
    XCTAssertTrue(harness.errors.contains("qemu-system-x86_64 is not installed"))
  }

  func testAPidIsTrustedOnlyForItsOwnNodeFolder() {
    let record = NodeRecord(
      name: "node1", backend: .svm, pid: 1, hostPort: 1, address: "",
      iso: "/s/nodes/node1/boot.iso", log: "", startedAt: Date())
    XCTAssertEqual(record.marker, "/s/nodes/node1/")
    XCTAssertFalse("qemu -cdrom /s/nodes/node10/boot.iso".contains(record.marker))
    XCTAssertTrue("qemu -cdrom /s/nodes/node1/boot.iso".contains(record.marker))
  }

  func testCorruptStateIsReported() throws {
    let harness = try Harness()
    _ = try harness.writeFile("nodes.json", "{not json")
    XCTAssertEqual(harness.run("node", "down"), 78)
    XCTAssertTrue(harness.errors.contains("cannot be read as a node table"))
  }
}
