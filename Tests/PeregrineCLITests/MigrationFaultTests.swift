import Foundation
import HypervisorCore
import XCTest

@testable import PeregrineCommands

extension FakeNode: MigrationConnection {
  func startDirtyLog(of name: String) throws -> UInt64 {
    try check("dirty start \(name)")
    return 4096
  }

  /// One page written between any two snapshots: below --downtime-pages, so the first
  /// snapshot after round 0 goes to stop and copy.
  func dirtyPages(of name: String) throws -> [UInt64] {
    try check("dirty snapshot \(name)")
    return [7]
  }

  func stopDirtyLog(of name: String) throws {
    try check("dirty stop \(name)")
  }

  func renewLease(of name: String, milliseconds: UInt64) throws {
    try check("lease \(name) \(milliseconds)")
  }

  func handOver(_ name: String) throws {
    try check("hand over \(name)")
  }

  func throttle(_ name: String, percent: Int) throws {
    try check("throttle \(name) \(percent)")
  }

  func readMemoryChunks(of name: String, at offsets: [UInt64], memorySize: UInt64) throws
    -> [(offset: UInt64, bytes: [UInt8])]
  {
    try check("memory chunks \(name) \(offsets.count)")
    return offsets.map { ($0, [UInt8](repeating: 0xA5, count: 1024)) }
  }

  /// The relayed rounds (MemoryRelay) read through these: the same requests, and so the same
  /// faults, as the whole reads.
  func streamMemory(of name: String, received: ((offset: UInt64, bytes: [UInt8])) -> Void)
    throws
  {
    for chunk in try readMemory(of: name, progress: { _, _ in }).chunks(of: 1024) {
      received(chunk)
    }
  }

  func streamMemoryChunks(
    of name: String, at offsets: [UInt64], memorySize: UInt64,
    received: ((offset: UInt64, bytes: [UInt8])) -> Void
  ) throws {
    for chunk in try readMemoryChunks(of: name, at: offsets, memorySize: memorySize) {
      received(chunk)
    }
  }
}

/// `migrate`'s faults (docs/migration.md, "Faults") against fake nodes: a target that
/// fails leaves the VM running on the source with its dirty log off and unpaused; a source
/// that fails leaves no VM on the target; a VM with a passed-through function is refused by
/// `migrate` and `checkpoint` before anything is paused or moved; the lock refuses a second
/// migration; the test-only pause waits for its resume file.
final class MigrationFaultTests: XCTestCase {
  private let memorySize: UInt64 = 16 << 20

  private func cluster(profile extra: String = "") throws -> (Harness, FakeNode, FakeNode) {
    let source = FakeNode()
    let target = FakeNode()
    let harness = try Harness(nodes: ["node0": source, "node1": target])
    _ = try harness.writeFile("tick.bin", "flat guest")
    let profile = try harness.writeFile(
      "vm.xml", "<profile><name>vm</name><memory>16</memory><flat>tick.bin</flat>\(extra)</profile>"
    )
    XCTAssertEqual(harness.run("create", profile, "--node", "node0"), 0, harness.errors)
    var vcpu = VCPUArchitecturalState()
    vcpu.registers.rip = 0x1000
    source.savedStates["vm"] = SavedVMState(
      memorySize: memorySize, vcpus: [SavedVMState.VCPU(architectural: vcpu)], devices: []
    ).encoded()
    var image = [UInt8](repeating: 0, count: Int(memorySize))
    for index in 0x1000..<0x1200 { image[index] = 0x90 }
    source.memories["vm"] = SparseImage(image: image)
    source.requests = []
    target.requests = []
    harness.errors = ""
    return (harness, source, target)
  }

  private func lockPath(_ harness: Harness) -> String {
    harness.directory.appendingPathComponent("migrations/vm.lock").path
  }

  func testATargetThatDiesInRoundZeroLeavesTheVMRunningWithItsLogOff() throws {
    let (harness, source, target) = try cluster()
    target.failOn["memory write"] = .unreachable(node: "node1", waitedSeconds: 7.75)
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 1)
    XCTAssertTrue(
      harness.errors.contains(
        "migration of vm failed on the target (node node1 did not answer within"),
      harness.errors)
    XCTAssertTrue(harness.errors.contains("; vm keeps running on its node"), harness.errors)
    // (`describe`: the source's own word on its vendor, VendorCheck.)
    let fromSource = source.requests.filter { !$0.hasPrefix("list") && $0 != "describe" }
    XCTAssertEqual(fromSource.first, "dirty start vm")
    XCTAssertEqual(fromSource.last, "dirty stop vm")
    XCTAssertFalse(fromSource.contains("pause vm"))
    XCTAssertEqual(source.machines.map(\.state), [.running])
    XCTAssertEqual(target.requests.last, "destroy vm")
    XCTAssertEqual(target.machines.map(\.name), [])
    XCTAssertFalse(FileManager.default.fileExists(atPath: lockPath(harness)))
  }

  func testATargetThatFailsAfterThePauseUnpausesTheSource() throws {
    let (harness, source, target) = try cluster()
    target.failOn["restore"] = .refused(node: "node1", reason: "out of memory")
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 1)
    XCTAssertTrue(harness.errors.contains("out of memory"), harness.errors)
    XCTAssertTrue(harness.errors.contains("vm keeps running on its node"), harness.errors)
    XCTAssertFalse(harness.errors.contains(", but"), harness.errors)
    let fromSource = source.requests.filter { !$0.hasPrefix("list") }
    XCTAssertEqual(Array(fromSource.suffix(2)), ["dirty stop vm", "unpause vm"])
    XCTAssertTrue(fromSource.contains("pause vm"))
    XCTAssertFalse(fromSource.contains("destroy vm"))
    XCTAssertEqual(source.machines.map(\.state), [.running])
    XCTAssertEqual(target.machines.map(\.name), [])
  }

  func testASourceThatDiesLeavesNoIncomingVMOnTheTarget() throws {
    let (harness, source, target) = try cluster()
    source.failOn["dirty snapshot"] = .unreachable(node: "node0", waitedSeconds: 7.75)
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 1)
    XCTAssertTrue(
      harness.errors.contains("migration of vm failed on the source (node node0 did not answer"),
      harness.errors)
    XCTAssertTrue(
      harness.errors.contains("the incoming VM on the target was destroyed"), harness.errors)
    XCTAssertTrue(harness.errors.contains("the source did not answer"), harness.errors)
    XCTAssertEqual(
      target.requests.filter { !$0.hasPrefix("describe") && !$0.hasPrefix("list") }.first,
      "create vm")
    XCTAssertEqual(target.requests.last, "destroy vm")
    XCTAssertEqual(target.machines.map(\.name), [])
    // A node that does not answer is not asked again (each ask waits out the retries).
    XCTAssertFalse(source.requests.contains("dirty stop vm"))
  }

  func testASourceThatRefusesGetsItsVMBackUnpausedWithTheLogOff() throws {
    let (harness, source, target) = try cluster()
    source.failOn["state"] = .refused(node: "node0", reason: "internal error")
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 1)
    XCTAssertTrue(harness.errors.contains("failed on the source"), harness.errors)
    XCTAssertTrue(
      harness.errors.contains("the incoming VM on the target was destroyed"), harness.errors)
    XCTAssertFalse(harness.errors.contains("left paused"), harness.errors)
    XCTAssertEqual(
      Array(source.requests.filter { !$0.hasPrefix("list") }.suffix(2)),
      ["dirty stop vm", "unpause vm"])
    XCTAssertEqual(source.machines.map(\.state), [.running])
    XCTAssertEqual(target.machines.map(\.name), [])
  }

  func testAVMWithAPassedThroughFunctionIsNeitherMigratedNorCheckpointed() throws {
    let (harness, source, target) = try cluster(
      profile: "<passthrough pci=\"0000:00:11.0\"/>")
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 77)
    XCTAssertTrue(
      harness.errors.contains("vm owns the passed-through PCI function 0000:00:11.0"),
      harness.errors)
    XCTAssertTrue(harness.errors.contains("nothing moved"), harness.errors)
    XCTAssertEqual(source.requests.filter { !$0.hasPrefix("list") }, [])
    XCTAssertEqual(target.requests.filter { !$0.hasPrefix("list") }, [])

    harness.errors = ""
    let file = harness.directory.appendingPathComponent("vm.ckpt").path
    XCTAssertEqual(harness.run("checkpoint", "vm", file), 77)
    XCTAssertTrue(
      harness.errors.contains("vm owns the passed-through PCI function 0000:00:11.0"),
      harness.errors)
    XCTAssertTrue(harness.errors.contains("nothing was paused or read"), harness.errors)
    XCTAssertEqual(source.requests.filter { !$0.hasPrefix("list") }, [])
    XCTAssertFalse(FileManager.default.fileExists(atPath: file))

    // A profile given with --profile that leaves the function out: the one the VM was
    // created from still counts.
    let plain = try harness.writeFile(
      "plain.xml", "<profile><name>vm</name><memory>16</memory><flat>tick.bin</flat></profile>")
    XCTAssertEqual(harness.run("checkpoint", "vm", file, "--profile", plain), 77)
    XCTAssertEqual(source.requests.filter { !$0.hasPrefix("list") }, [])
    XCTAssertEqual(source.machines.map(\.state), [.running])
  }

  func testAMigrationUnderWayRefusesASecondOne() throws {
    let (harness, source, target) = try cluster()
    let held = try MigrationLock(vm: "vm", state: harness.environment.state)
    // The first migration's incoming copy on the target: the lock is the reason given.
    target.machines.append(
      MachineSummary(name: "vm", state: .incoming, vcpus: 1, memory: 16 << 20, uptimeSeconds: 0))
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 77)
    XCTAssertTrue(harness.errors.contains("already under way"), harness.errors)
    XCTAssertFalse(source.requests.contains { $0.hasPrefix("dirty") || $0.hasPrefix("pause") })
    XCTAssertFalse(target.requests.contains { $0.hasPrefix("create") })
    // The held lock is not the refused one's to remove.
    XCTAssertTrue(FileManager.default.fileExists(atPath: held.path))
    held.release()
    target.machines = []
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 0, harness.errors)
    XCTAssertEqual(target.machines.map(\.name), ["vm"])
    XCTAssertEqual(source.machines.map(\.name), [])
  }

  func testTheTestOnlyPauseWaitsForItsResumeFile() throws {
    let harness = try Harness()
    let state = harness.environment.state
    XCTAssertNil(MigrationTestPause(vm: "vm", state: state, environment: [:]))
    XCTAssertNil(
      MigrationTestPause(
        vm: "vm", state: state, environment: [MigrationTestPause.variable: "soon"]))
    let pause = try XCTUnwrap(
      MigrationTestPause(vm: "vm", state: state, environment: [MigrationTestPause.variable: "1"]))
    pause.reached(round: 0, environment: harness.environment)
    XCTAssertEqual(harness.sleeps, 0)
    XCTAssertEqual(harness.errors, "")
    // Without the file it gives up after 300 s (the harness's clock).
    pause.reached(round: 1, environment: harness.environment)
    XCTAssertEqual(harness.sleeps, 3000)
    XCTAssertTrue(harness.errors.contains("paused after round 1"), harness.errors)
    // With it, at once, and the file is removed.
    try FileManager.default.createDirectory(
      atPath: (pause.resumeFile as NSString).deletingLastPathComponent,
      withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: pause.resumeFile, contents: Data())
    pause.reached(round: 1, environment: harness.environment)
    XCTAssertEqual(harness.sleeps, 3000)
    XCTAssertFalse(FileManager.default.fileExists(atPath: pause.resumeFile))
  }

  /// During a migration the VM is listed on both nodes, `incoming` on the target: every
  /// command that names it reaches the node that runs it, whichever node answers first.
  func testTheIncomingCopyIsNotTheVM() throws {
    let incoming = FakeNode(machines: [
      MachineSummary(name: "vm", state: .incoming, vcpus: 1, memory: 16 << 20, uptimeSeconds: 0)
    ])
    let running = FakeNode(machines: [
      MachineSummary(name: "vm", state: .running, vcpus: 1, memory: 16 << 20, uptimeSeconds: 9)
    ])
    let harness = try Harness(nodes: ["node0": incoming, "node1": running])
    XCTAssertEqual(harness.run("pause", "vm"), 0, harness.errors)
    XCTAssertTrue(running.requests.contains("pause vm"))
    XCTAssertFalse(incoming.requests.contains("pause vm"))
    XCTAssertEqual(incoming.machines.map(\.state), [.incoming])
  }
}
