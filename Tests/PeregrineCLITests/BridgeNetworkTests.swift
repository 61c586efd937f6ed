import XCTest

@testable import PeregrineCommands

/// `node up --network bridge` and `node down` with a fake launcher and a fake `ip`.
final class BridgeNetworkTests: XCTestCase {
  func kernel(_ harness: Harness) throws -> String {
    try harness.writeFile("peregrine.elf", "elf")
  }

  func testCommandsAddressesAndCleanupList() {
    XCTAssertEqual(BridgeNetwork.tapName(forNode: 3), "pgtap3")
    XCTAssertEqual(BridgeNetwork.nodeAddress(forNode: 0), "10.0.3.2/24")
    XCTAssertEqual(BridgeNetwork.nodeHost(forNode: 63), "10.0.3.65")
    XCTAssertEqual(
      BridgeNetwork.createBridge,
      [
        ["link", "add", "name", "pgbr0", "type", "bridge"],
        ["addr", "add", "10.0.3.1/24", "dev", "pgbr0"],
        ["link", "set", "dev", "pgbr0", "up"],
      ])
    XCTAssertEqual(
      BridgeNetwork.createTap("pgtap1"),
      [
        ["tuntap", "add", "dev", "pgtap1", "mode", "tap"],
        ["link", "set", "dev", "pgtap1", "master", "pgbr0", "up"],
      ])
    XCTAssertEqual(
      BridgeNetwork.cleanup(taps: ["pgtap0", "pgtap1"], bridgeMade: true, otherPorts: 0),
      [
        ["link", "del", "dev", "pgtap0"], ["link", "del", "dev", "pgtap1"],
        ["link", "del", "dev", "pgbr0"],
      ])
    // A bridge it did not make, or one another port still uses, stays.
    XCTAssertEqual(
      BridgeNetwork.cleanup(taps: ["pgtap0"], bridgeMade: false, otherPorts: 0),
      [["link", "del", "dev", "pgtap0"]])
    XCTAssertEqual(
      BridgeNetwork.cleanup(taps: ["pgtap0"], bridgeMade: true, otherPorts: 1),
      [["link", "del", "dev", "pgtap0"]])
  }

  func testQEMUArgumentsForATap() {
    let arguments = NodeBoot.qemuArguments(
      iso: "/s/n/boot.iso", log: "/s/n/serial.log", attachment: .tap(name: "pgtap1"),
      nodeIndex: 1, memory: "256M", cpus: 1)
    let netdev = arguments.firstIndex(of: "-netdev").map { arguments[$0 + 1] }
    XCTAssertEqual(netdev, "tap,id=mgmt,ifname=pgtap1,script=no,downscript=no")
    XCTAssertTrue(
      arguments.contains("virtio-net-pci,netdev=mgmt,disable-legacy=on,mac=52:54:00:50:00:01"))
    XCTAssertFalse(arguments.joined(separator: " ").contains("hostfwd"))
  }

  func testCapabilityParsing() {
    XCTAssertTrue(BridgeNetwork.hasNetAdmin(procStatus: "Name:\tx\nCapEff:\t000001fffeffffff\n"))
    XCTAssertTrue(BridgeNetwork.hasNetAdmin(procStatus: "CapEff:\t0000000000001000\n"))
    XCTAssertFalse(BridgeNetwork.hasNetAdmin(procStatus: "CapEff:\t0000000000000fff\n"))
    XCTAssertFalse(BridgeNetwork.hasNetAdmin(procStatus: "CapEff:\tzz\n"))
    XCTAssertFalse(BridgeNetwork.hasNetAdmin(procStatus: ""))
  }

  func testUpMakesTheBridgeAndTapsAndDownRemovesThem() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    XCTAssertEqual(
      harness.run(
        "node", "up", "--count", "2", "--network", "bridge", "--kernel", elf, "--wait", "0",
        "--kernel-args", "netecho nettest"), 0, harness.errors)
    XCTAssertEqual(
      harness.ipCalls,
      [["link", "show", "dev", "pgbr0"]] + BridgeNetwork.createBridge
        + [["link", "show", "dev", "pgtap0"]] + BridgeNetwork.createTap("pgtap0")
        + [["link", "show", "dev", "pgtap1"]] + BridgeNetwork.createTap("pgtap1"))
    XCTAssertEqual(harness.links["pgtap1"], "pgbr0")
    XCTAssertTrue(harness.output.contains("made bridge pgbr0"))
    XCTAssertTrue(
      harness.output.contains("UDP 10.0.3.3 port 7100 on bridge pgbr0 (tap pgtap1)"),
      harness.output)
    // Each node: its own address, the host its gateway, the extra words; QEMU on its tap.
    XCTAssertTrue(
      harness.grubConfigurations[1].contains("ip=10.0.3.3/24 gw=10.0.3.1 netecho nettest\n"))
    XCTAssertTrue(
      harness.spawned[0].arguments.contains("tap,id=mgmt,ifname=pgtap0,script=no,downscript=no"))
    let table = try harness.environment.state.readNodes()
    XCTAssertEqual(table.bridgeMade, "pgbr0")
    XCTAssertEqual(
      table.nodes.map(\.endpoint),
      [
        NodeEndpoint(name: "node0", host: "10.0.3.2", port: 7100),
        NodeEndpoint(name: "node1", host: "10.0.3.3", port: 7100),
      ])
    XCTAssertEqual(table.nodes.map(\.tapMade), ["pgtap0", "pgtap1"])
    XCTAssertEqual(table.nodes.map(\.network), [.bridge, .bridge])

    XCTAssertEqual(
      harness.run(
        "node", "up", "--count", "2", "--network", "bridge", "--kernel", elf, "--wait", "0"), 0)
    XCTAssertTrue(
      harness.output.contains("node1 is already up (pid 1002, UDP 10.0.3.3:7100)"), harness.output)
    XCTAssertEqual(harness.spawned.count, 2)
    // Mixing modes in one cluster is refused.
    XCTAssertEqual(harness.run("node", "up", "--count", "3", "--kernel", elf, "--wait", "0"), 64)
    XCTAssertTrue(harness.errors.contains("node0 is up on the bridge network"), harness.errors)

    harness.ipCalls = []
    XCTAssertEqual(harness.run("node", "down", "--json"), 0, harness.errors)
    XCTAssertEqual(try harness.json()["removed_links"] as? [String], ["pgtap0", "pgtap1", "pgbr0"])
    XCTAssertTrue(harness.links.isEmpty)
    XCTAssertNil(try harness.environment.state.readNodes().bridgeMade)
  }

  func testABridgeAndTapAlreadyThereAreUsedAndLeft() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    harness.links = ["pgbr0": "", "pgtap0": "", "other": "pgbr0"]
    XCTAssertEqual(
      harness.run("node", "up", "--network", "bridge", "--kernel", elf, "--wait", "0"), 0,
      harness.errors)
    XCTAssertFalse(harness.ipCalls.contains(BridgeNetwork.createBridge[0]))
    XCTAssertFalse(harness.ipCalls.contains(BridgeNetwork.createTap("pgtap0")[0]))
    XCTAssertEqual(harness.links["pgtap0"], "pgbr0")
    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertEqual(harness.output, "stopped node0\n")
    XCTAssertEqual(Set(harness.links.keys), ["pgbr0", "pgtap0", "other"])
  }

  func testABridgeOthersStillUseStaysUntilTheyLeave() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    XCTAssertEqual(
      harness.run("node", "up", "--network", "bridge", "--kernel", elf, "--wait", "0"), 0)
    harness.links["vethx"] = "pgbr0"
    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertEqual(harness.output, "stopped node0\nremoved pgtap0\n")
    XCTAssertEqual(try harness.environment.state.readNodes().bridgeMade, "pgbr0")
    harness.links["vethx"] = nil
    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertTrue(harness.output.contains("removed pgbr0"), harness.output)
    XCTAssertTrue(harness.links.isEmpty)
  }

  func testADeadNodesTapIsMadeAgain() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    XCTAssertEqual(
      harness.run("node", "up", "--network", "bridge", "--kernel", elf, "--wait", "0"), 0)
    harness.running.removeAll()
    harness.ipCalls = []
    XCTAssertEqual(
      harness.run("node", "up", "--network", "bridge", "--kernel", elf, "--wait", "0"), 0)
    XCTAssertTrue(harness.ipCalls.contains(BridgeNetwork.deleteLink("pgtap0")))
    XCTAssertEqual(try harness.environment.state.readNodes().nodes.map(\.tapMade), ["pgtap0"])
    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertTrue(harness.links.isEmpty)
  }

  func testWithoutCapNetAdminNothingStarts() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    harness.netAdmin = false
    XCTAssertEqual(
      harness.run("node", "up", "--network", "bridge", "--kernel", elf, "--wait", "0"), 1)
    XCTAssertTrue(harness.errors.contains("needs CAP_NET_ADMIN"), harness.errors)
    XCTAssertTrue(harness.errors.contains("--network user"))
    XCTAssertTrue(harness.spawned.isEmpty)
    XCTAssertTrue(harness.ipCalls.isEmpty)
    XCTAssertNil(try harness.environment.state.readKey())
  }

  func testRefusals() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    XCTAssertEqual(
      harness.run(
        "node", "up", "--network", "bridge", "--backend", "vmx", "--kernel", elf, "--wait", "0"),
      64)
    XCTAssertTrue(harness.errors.contains("--network bridge is for svm nodes"), harness.errors)
    XCTAssertEqual(
      harness.run("node", "up", "--kernel", elf, "--kernel-args", "ip=1.2.3.4/8"), 64)
    XCTAssertTrue(harness.errors.contains("cannot set ip="), harness.errors)
    XCTAssertEqual(
      harness.run("node", "up", "--kernel", elf, "--kernel-args", "a\nmenuentry"), 64)
    XCTAssertEqual(harness.run("node", "up", "--kernel", elf, "--network", "wifi"), 64)
    XCTAssertTrue(harness.spawned.isEmpty)
  }

  func testAFailedTapLeavesNothingBehind() throws {
    let harness = try Harness()
    let elf = try kernel(harness)
    harness.environment.launcher.spawn = { _, _, _ in
      throw CLIError(.failure, "cannot start qemu")
    }
    XCTAssertEqual(
      harness.run("node", "up", "--network", "bridge", "--kernel", elf, "--wait", "0"), 1)
    XCTAssertNil(harness.links["pgtap0"])
    XCTAssertEqual(harness.run("node", "down"), 0)
    XCTAssertTrue(harness.links.isEmpty, "\(harness.links)")
  }
}
