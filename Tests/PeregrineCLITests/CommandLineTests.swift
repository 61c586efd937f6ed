import XCTest

@testable import PeregrineCommands

/// Parsing, help, exit codes and `validate`: no node involved.
final class CommandLineTests: XCTestCase {
  func testHelpListsEveryCommandAndTheExitCodes() throws {
    let harness = try Harness()
    XCTAssertEqual(harness.run("--help"), 0)
    for command in [
      "node", "nodes", "validate", "create", "list", "status", "pause", "unpause", "destroy",
      "console",
    ] {
      XCTAssertTrue(harness.output.contains("\n  \(command) "), "--help lacks \(command)")
    }
    for status in ExitStatus.allCases {
      XCTAssertTrue(harness.output.contains("\(status.rawValue)"), "\(status)")
    }
    XCTAssertEqual(harness.run("node", "--help"), 0)
    XCTAssertTrue(harness.output.contains("up") && harness.output.contains("down"))
    XCTAssertEqual(harness.run("node", "up", "--help"), 0)
    XCTAssertTrue(
      harness.output.contains("--backend <backend>") && harness.output.contains("--count <count>"))
    XCTAssertEqual(harness.run("status", "--help"), 0)
    XCTAssertTrue(harness.output.contains("--state"))
  }

  func testUsageErrorsExitWith64() throws {
    let harness = try Harness()
    XCTAssertEqual(harness.run("pause"), 64, "missing VM name")
    XCTAssertTrue(harness.errors.contains("Missing expected argument"))
    XCTAssertEqual(harness.run("frobnicate"), 64)
    XCTAssertEqual(harness.run("node", "up", "--backend", "kvm"), 64)
    XCTAssertEqual(harness.run("node", "up", "--count", "0"), 64)
    XCTAssertEqual(harness.run("node", "up", "--memory", "lots"), 64)
  }

  func testValidateAcceptsAGoodProfile() throws {
    let harness = try Harness()
    _ = try harness.writeFile("vmlinuz", "kernel")
    let path = try harness.writeFile(
      "good.xml",
      "<profile>\n<name>web</name>\n<memory unit=\"GiB\">1</memory>\n<vcpus>2</vcpus>\n<kernel>vmlinuz</kernel>\n</profile>\n"
    )
    XCTAssertEqual(harness.run("validate", path), 0)
    XCTAssertEqual(
      harness.output,
      "\(path): valid VM profile 'web' (1 GiB, 2 vCPUs, Linux kernel \(harness.directory.path)/vmlinuz, shared)\n"
    )
    XCTAssertEqual(harness.run("validate", path, "--module-line"), 0)
    XCTAssertTrue(
      harness.output.contains(
        "\(harness.directory.path)/vmlinuz:vm name=web mem=1G cpus=2 kind=linux\n"))
    XCTAssertEqual(harness.run("validate", "--json", path), 0)
    let json = try harness.json()
    XCTAssertEqual(json["valid"] as? Bool, true)
    XCTAssertEqual(json["kind"] as? String, "machine")
    let machine = try XCTUnwrap((json["machines"] as? [[String: Any]])?.first)
    XCTAssertEqual(machine["memory"] as? Int, 1 << 30)
    XCTAssertEqual(machine["vcpus"] as? Int, 2)
  }

  func testValidateReportsEveryErrorWithFileLineAndColumn() throws {
    let harness = try Harness()
    let path = try harness.writeFile(
      "bad.xml",
      "<profile>\n  <name>web</name>\n  <memory>0</memory>\n  <kernel>missing</kernel>\n  <nic1><mac>01:00:5e:00:00:01</mac></nic1>\n</profile>\n"
    )
    XCTAssertEqual(harness.run("validate", path), 65)
    XCTAssertEqual(harness.output, "")
    let lines = harness.errors.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.count, 4, harness.errors)
    XCTAssertTrue(
      lines[0].hasPrefix("\(path):3:3: error: <memory> of 0 MiB is out of range"), lines[0])
    XCTAssertTrue(
      lines[1].hasPrefix("\(path):4:3: error: <kernel> names missing, and there is no such file"),
      lines[1])
    XCTAssertTrue(
      lines[2].hasPrefix(
        "\(path):5:9: error: MAC address 01:00:5e:00:00:01 is a multicast address"), lines[2])
    XCTAssertEqual(lines[3], "\(path): 3 error(s); nothing was started (see docs/profiles.md)")

    XCTAssertEqual(harness.run("validate", path, "--no-file-check"), 65)
    XCTAssertEqual(harness.errors.split(separator: "\n").count, 3)

    XCTAssertEqual(harness.run("validate", "--json", path), 65)
    let json = try harness.json()
    XCTAssertEqual(json["valid"] as? Bool, false)
    let errors = try XCTUnwrap(json["errors"] as? [[String: Any]])
    XCTAssertEqual(errors.map { $0["line"] as? Int }, [3, 4, 5])
    XCTAssertEqual(
      errors.map { $0["kind"] as? String }, ["out-of-range", "file-not-found", "invalid-mac"])
    XCTAssertEqual(errors.first?["file"] as? String, path)
  }

  func testValidateMalformedXML() throws {
    let harness = try Harness()
    let path = try harness.writeFile(
      "broken.xml", "<profile>\n  <name>web</name>\n  <memory>16</memry>\n</profile>\n")
    XCTAssertEqual(harness.run("validate", path), 65)
    XCTAssertTrue(harness.errors.hasPrefix("\(path):3:"), harness.errors)
    XCTAssertTrue(harness.errors.contains("malformed XML"))
  }

  func testUnreadableProfileExitsWith66() throws {
    let harness = try Harness()
    XCTAssertEqual(harness.run("validate", "/nonexistent/profile.xml"), 66)
    XCTAssertEqual(
      harness.errors,
      "peregrine: error: /nonexistent/profile.xml: cannot read the profile: no such file\n")
  }

  func testCommandsThatNeedNodesSayThereAreNone() throws {
    let harness = try Harness()
    for arguments in [["list"], ["nodes"], ["status"], ["pause", "x"], ["console", "x"]] {
      XCTAssertEqual(
        harness.run(arguments[0], arguments.count > 1 ? arguments[1] : "--json"), 78, "\(arguments)"
      )
      XCTAssertTrue(harness.errors.contains("no nodes are up"), harness.errors)
      XCTAssertTrue(harness.errors.contains("peregrine node up"))
    }
  }

  func testABuildWithoutTheProtocolClientSaysSo() throws {
    let harness = try Harness(nodes: ["node0": FakeNode()])
    harness.environment.connector = UnwiredConnector()
    XCTAssertEqual(harness.run("list"), 70)
    XCTAssertTrue(
      harness.errors.contains("control-protocol client is not wired in"), harness.errors)
  }
}
