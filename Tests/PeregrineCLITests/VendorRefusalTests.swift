import Foundation
import HypervisorCore
import XCTest

@testable import PeregrineCommands

/// Issue 15: a VM's state moves only between nodes of one vendor. `migrate` and `restore`
/// refuse a node of the other vendor with the reason before anything moves, by the CLI's
/// records and by the nodes' own answers (VendorCheck, docs/migration.md "Between vendors").
final class VendorRefusalTests: XCTestCase {
  func testTheCheckRefusesOnlyBetweenVendorsAndTheAnswerDecides() {
    let amd = VendorCheck.Node(name: "node0", recorded: .svm)
    let intel = VendorCheck.Node(name: "node1", recorded: .vmx)
    XCTAssertNil(VendorCheck.migrationRefusal(vm: "vm", from: amd, to: amd))
    XCTAssertNil(VendorCheck.migrationRefusal(vm: "vm", from: intel, to: intel))
    let refusal = VendorCheck.migrationRefusal(vm: "vm", from: intel, to: amd)
    XCTAssertEqual(
      refusal,
      "node1 is vmx (VT-x) and node0 is svm (AMD-V): vm's vCPU state (VMCB or VMCS) runs only under the vendor that saved it; nothing moved"
    )
    XCTAssertNotNil(VendorCheck.migrationRefusal(vm: "vm", from: amd, to: intel))
    // Recorded as AMD-V, but the node says VT-x: its word counts, and the refusal says both.
    let lying = VendorCheck.Node(name: "node2", recorded: .svm, answered: .vmx)
    let mixed = VendorCheck.migrationRefusal(vm: "vm", from: amd, to: lying)
    XCTAssertTrue(
      mixed?.contains("node2 is vmx (VT-x) (it says so; the CLI's record says svm)") == true,
      mixed ?? "nil")
    XCTAssertNil(VendorCheck.migrationRefusal(vm: "vm", from: intel, to: lying))

    XCTAssertNil(
      VendorCheck.restoreRefusal(file: "f.ckpt", backend: "vmx", vendor: "Intel", on: intel))
    XCTAssertEqual(
      VendorCheck.restoreRefusal(file: "f.ckpt", backend: "vmx", vendor: "Intel", on: amd),
      "f.ckpt was taken on a vmx (Intel) node and node0 is svm (AMD-V): a VM's state moves only between nodes of one vendor; nothing was sent"
    )
    XCTAssertNotNil(
      VendorCheck.restoreRefusal(file: "f.ckpt", backend: "svm", vendor: "AMD", on: lying))
    XCTAssertEqual(VendorCheck.backend(.svm), .svm)
    XCTAssertEqual(VendorCheck.backend(.vmx), .vmx)
  }

  /// Two fake nodes, node0 (AMD-V) holding VM `vm` and node1 recorded as `target`.
  private func cluster(target backend: Backend) throws -> (Harness, FakeNode, FakeNode) {
    let source = FakeNode()
    let target = FakeNode()
    let harness = try Harness(nodes: ["node0": source, "node1": target])
    var table = try harness.environment.state.readNodes()
    table.nodes = table.nodes.map { node in
      var node = node
      if node.name == "node1" { node.backend = backend }
      return node
    }
    try harness.environment.state.writeNodes(table)
    _ = try harness.writeFile("tick.bin", "flat guest")
    let profile = try harness.writeFile(
      "vm.xml", "<profile><name>vm</name><memory>16</memory><flat>tick.bin</flat></profile>")
    XCTAssertEqual(harness.run("create", profile, "--node", "node0"), 0, harness.errors)
    var vcpu = VCPUArchitecturalState()
    vcpu.registers.rip = 0x1000
    source.savedStates["vm"] = SavedVMState(
      memorySize: 16 << 20, vcpus: [SavedVMState.VCPU(architectural: vcpu)], devices: []
    ).encoded()
    var image = [UInt8](repeating: 0, count: 16 << 20)
    image[0x1000] = 0x90
    source.memories["vm"] = SparseImage(image: image)
    source.requests = []
    target.requests = []
    harness.errors = ""
    return (harness, source, target)
  }

  private func assertNothingMoved(_ source: FakeNode, _ target: FakeNode) {
    XCTAssertFalse(
      source.requests.contains { $0.hasPrefix("pause") || $0.hasPrefix("dirty") },
      "\(source.requests)")
    XCTAssertFalse(target.requests.contains { $0.hasPrefix("create") }, "\(target.requests)")
    XCTAssertEqual(source.machines.map(\.name), ["vm"])
    XCTAssertEqual(source.machines.map(\.state), [.running])
    XCTAssertEqual(target.machines.map(\.name), [])
  }

  func testMigrateToANodeRecordedAsTheOtherVendorIsRefused() throws {
    let (harness, source, target) = try cluster(target: .vmx)
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 77)
    XCTAssertTrue(
      harness.errors.contains("node0 is svm (AMD-V) and node1 is vmx (VT-x)"), harness.errors)
    XCTAssertTrue(harness.errors.contains("nothing moved"), harness.errors)
    assertNothingMoved(source, target)
    // Refused by the records: the target was asked nothing but the list that finds the VM.
    XCTAssertEqual(target.requests.filter { !$0.hasPrefix("list") }, [])
  }

  func testMigrateToANodeThatSaysItIsTheOtherVendorIsRefused() throws {
    // Recorded as AMD-V like node0, but node1 answers that it runs VT-x.
    let (harness, source, target) = try cluster(target: .svm)
    target.report.backend = .vmx
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 77)
    XCTAssertTrue(harness.errors.contains("node1 is vmx (VT-x) (it says so"), harness.errors)
    XCTAssertTrue(harness.errors.contains("nothing moved"), harness.errors)
    assertNothingMoved(source, target)
    // And the other way: the source says VT-x, the target AMD-V.
    target.report.backend = .svm
    source.report.backend = .vmx
    harness.errors = ""
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 77)
    XCTAssertTrue(harness.errors.contains("node0 is vmx (VT-x) (it says so"), harness.errors)
    assertNothingMoved(source, target)
    // Both of one vendor by their answers: it moves.
    source.report.backend = .svm
    XCTAssertEqual(harness.run("migrate", "vm", "--to", "node1"), 0, harness.errors)
    XCTAssertEqual(target.machines.map(\.name), ["vm"])
  }

  func testRestoreOnANodeThatSaysItIsTheOtherVendorSendsNothing() throws {
    let (harness, source, target) = try cluster(target: .svm)
    let file = harness.directory.appendingPathComponent("vm.ckpt").path
    XCTAssertEqual(harness.run("checkpoint", "vm", file), 0, harness.errors)
    let taken = try CheckpointFile.decode(
      [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: file))))
    XCTAssertEqual(taken.metadata.backend, "svm")
    XCTAssertEqual(taken.metadata.vendor, "AMD")
    target.report.backend = .vmx
    target.requests = []
    XCTAssertEqual(harness.run("restore", file, "--node", "node1", "--name", "copy"), 77)
    XCTAssertTrue(
      harness.errors.contains("taken on a svm (AMD) node and node1 is vmx (VT-x)"), harness.errors)
    XCTAssertTrue(harness.errors.contains("nothing was sent"), harness.errors)
    XCTAssertEqual(target.requests.filter { !$0.hasPrefix("list") }, ["describe"])
    XCTAssertEqual(target.machines.map(\.name), [])
    _ = source
  }
}
