import Foundation
import XCTest

@testable import PeregrineCommands

/// A VT-x node's Bochs draws its `term` screen on a terminal nobody read, and stopped dead
/// once that terminal's buffer was full: `node up` starts a reader for it
/// (NodeManager+BochsScreen.swift).
final class BochsScreenTests: XCTestCase {
  func testTheScreenIsTheLastOneBochsNamed() {
    let output = """
      Bochs connected to screen "/dev/pts/3"
      ========
      Bochs connected to screen "/dev/pts/12"
      Next at t=0
      """
    XCTAssertEqual(NodeManager.bochsScreen(inEmulatorOutput: output), "/dev/pts/12")
    XCTAssertNil(NodeManager.bochsScreen(inEmulatorOutput: "Next at t=0\n"))
    // Anything but a pseudo-terminal's name is not passed to the shell.
    XCTAssertNil(
      NodeManager.bochsScreen(inEmulatorOutput: "Bochs connected to screen \"/etc/x\"\n"))
    XCTAssertNil(
      NodeManager.bochsScreen(inEmulatorOutput: "Bochs connected to screen \"/dev/pts/1;rm\"\n"))
    XCTAssertNil(
      NodeManager.bochsScreen(inEmulatorOutput: "Bochs connected to screen \"/dev/pts/\"\n"))
  }

  func testAVMXNodeGetsAReaderForTheScreenBochsNamesAndAnSVMNodeNone() throws {
    let harness = try Harness()
    let elf = try harness.writeFile("peregrine.elf", "elf")
    let log = harness.environment.state.nodeDirectory("node0").appendingPathComponent(
      "emulator.log"
    ).path
    try FileManager.default.createDirectory(
      atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    // An earlier start's log, with its own screen.
    _ = FileManager.default.createFile(
      atPath: log, contents: Data("Bochs connected to screen \"/dev/pts/1\"\n".utf8))
    harness.environment.launcher.spawn = { [unowned harness] program, arguments, output in
      harness.spawned.append((program, arguments))
      if program.hasSuffix("bochs") {
        // A new log each start (an earlier start's line must not name this screen).
        XCTAssertFalse(FileManager.default.fileExists(atPath: log))
        _ = FileManager.default.createFile(
          atPath: log, contents: Data("Bochs connected to screen \"/dev/pts/7\"\n".utf8))
      }
      let pid = Int32(1000 + harness.spawned.count)
      harness.running.insert(pid)
      return pid
    }
    XCTAssertEqual(
      harness.run("node", "up", "--backend", "vmx", "--kernel", elf, "--wait", "0"), 0,
      harness.errors)
    XCTAssertEqual(harness.spawned.map(\.program), ["/usr/bin/bochs", "/bin/sh"])
    XCTAssertEqual(
      harness.spawned.last?.arguments, ["-c", "stty raw -echo < /dev/pts/7 && exec cat /dev/pts/7"])
    XCTAssertEqual(harness.run("node", "down"), 0)

    harness.spawned = []
    XCTAssertEqual(harness.run("node", "up", "--kernel", elf, "--wait", "0"), 0, harness.errors)
    XCTAssertEqual(harness.spawned.map(\.program), ["/usr/bin/qemu-system-x86_64"])
  }

  /// Bochs runs on when its slirp cannot forward the node's port (another `node up` took it
  /// meanwhile): `up` reads that in its log, stops it and starts it on the next free port.
  func testABochsThatLostItsPortIsStartedOnAnother() throws {
    let harness = try Harness()
    let elf = try harness.writeFile("peregrine.elf", "elf")
    let log = harness.environment.state.nodeDirectory("node0").appendingPathComponent(
      "emulator.log"
    ).path
    var bochsStarts = 0
    harness.environment.launcher.spawn = { [unowned harness] program, arguments, output in
      harness.spawned.append((program, arguments))
      if program.hasSuffix("bochs") {
        bochsStarts += 1
        var said = "Bochs connected to screen \"/dev/pts/7\"\n"
        if bochsStarts == 1 {
          said +=
            "00000000000e[SLIRP0] could not set up host forwarding rule 'udp:127.0.0.1:47100-10.0.2.15:7100'\n"
        }
        _ = FileManager.default.createFile(atPath: log, contents: Data(said.utf8))
      }
      let pid = Int32(1000 + harness.spawned.count)
      harness.running.insert(pid)
      return pid
    }
    XCTAssertEqual(
      harness.run("node", "up", "--backend", "vmx", "--kernel", elf, "--wait", "0"), 0,
      harness.errors)
    XCTAssertEqual(bochsStarts, 2)
    XCTAssertEqual(harness.stopped, [1001])
    // 47101 is taken in this harness: the next free port.
    XCTAssertEqual(try harness.environment.state.readNodes().nodes.map(\.hostPort), [47102])
    let slirp = try String(
      contentsOfFile: harness.environment.state.nodeDirectory("node0").path + "/slirp.conf",
      encoding: .utf8)
    XCTAssertTrue(slirp.contains("udp:127.0.0.1:47102-"), slirp)
  }
}
