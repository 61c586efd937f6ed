import Foundation
import HypervisorCore
import XCTest

@testable import PeregrineCommands

extension FakeNode: MemoryTransferConnection {
  func savedStateBytes(of name: String) throws -> [UInt8] {
    try check("state \(name)")
    guard machines.first(where: { $0.name == name })?.state == .paused else {
      throw NodeError.refused(node: "fake", reason: "pause the VM first")
    }
    return savedStates[name] ?? []
  }

  func readMemory(of name: String, progress: (UInt64, UInt64) -> Void) throws -> SparseImage {
    try check("memory read \(name)")
    return memories[name] ?? SparseImage(size: 0, runs: [])
  }

  func writeMemory(
    of name: String, chunks: [(offset: UInt64, bytes: [UInt8])], progress: (Int, Int) -> Void
  ) throws {
    try check("memory write \(name) \(chunks.count)")
    writtenMemory[name, default: []] += chunks
  }

  func restoreState(of name: String, state: [UInt8]) throws {
    try check("restore \(name)")
    restoredStates[name] = state
    try setState(name, .running)
  }
}

/// `checkpoint` and `restore` against fake nodes (docs/checkpoint.md): what is read goes
/// into the file, the file comes back as an incoming create, memory writes and a restore,
/// and a damaged file or another vendor's is refused with nothing sent.
final class CheckpointCommandTests: XCTestCase {
  private let memorySize: UInt64 = 16 << 20

  private func state() -> [UInt8] {
    var vcpu = VCPUArchitecturalState()
    vcpu.registers.rip = 0x1234
    return SavedVMState(
      memorySize: memorySize, vcpus: [SavedVMState.VCPU(architectural: vcpu)], devices: []
    ).encoded()
  }

  private func memory() -> SparseImage {
    var image = [UInt8](repeating: 0, count: Int(memorySize))
    for index in 0x7C00..<0x8100 { image[index] = 0x90 }
    image[Int(memorySize) - 1] = 1
    return SparseImage(image: image)
  }

  private func checkpointed() throws -> (Harness, FakeNode, String) {
    let node = FakeNode()
    let harness = try Harness(nodes: ["node0": node])
    _ = try harness.writeFile("hello.bin", "flat guest")
    let profile = try harness.writeFile(
      "vm.xml", "<profile><name>vm</name><memory>16</memory><flat>hello.bin</flat></profile>")
    XCTAssertEqual(harness.run("create", profile), 0, harness.errors)
    node.savedStates["vm"] = state()
    node.memories["vm"] = memory()
    let file = harness.directory.appendingPathComponent("vm.ckpt").path
    node.requests = []
    XCTAssertEqual(harness.run("checkpoint", "vm", file, "--json"), 0, harness.errors)
    return (harness, node, file)
  }

  func testCheckpointPausesReadsEverythingAndUnpauses() throws {
    let (harness, node, file) = try checkpointed()
    XCTAssertEqual(
      node.requests.filter { !$0.hasPrefix("list") },
      ["pause vm", "state vm", "memory read vm", "unpause vm"])
    let report = try harness.json()
    XCTAssertEqual(report["memory_runs"] as? Int, 2)
    XCTAssertEqual(report["memory_data_bytes"] as? Int, 2048 + 1024)
    let decoded = try CheckpointFile.decode(
      [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: file))))
    XCTAssertEqual(decoded.savedState, state())
    XCTAssertEqual(decoded.memory, memory())
    XCTAssertEqual(decoded.metadata.machine, "vm")
    XCTAssertEqual(decoded.metadata.backend, "svm")
    XCTAssertEqual(decoded.metadata.node, "node0")
    XCTAssertTrue(String(decoding: decoded.profile, as: UTF8.self).contains("<name>vm</name>"))
    XCTAssertEqual(report["file_bytes"] as? Int, decoded.encoded().count)
  }

  func testRestoreCreatesIncomingWritesMemoryAndRestoresTheState() throws {
    let (harness, node, file) = try checkpointed()
    XCTAssertEqual(harness.run("destroy", "vm"), 0, harness.errors)
    node.requests = []
    XCTAssertEqual(harness.run("restore", file, "--name", "copy"), 0, harness.errors)
    XCTAssertEqual(
      node.requests.filter { !$0.hasPrefix("list") },
      ["describe", "create copy", "memory write copy 3", "restore copy"])
    XCTAssertEqual(node.restoredStates["copy"], state())
    let written = try XCTUnwrap(node.writtenMemory["copy"])
    XCTAssertEqual(written.map(\.offset), [0x7C00, 0x8000, memorySize - 1024])
    XCTAssertEqual(written[1].bytes.prefix(0x100), ArraySlice(repeating: 0x90, count: 0x100))
    XCTAssertEqual(written[1].bytes[0x100], 0)
    XCTAssertTrue(harness.output.contains("restored copy on node0"), harness.output)
    XCTAssertEqual(node.machines.first(where: { $0.name == "copy" })?.state, .running)
  }

  func testADamagedFileOrAnotherVendorsIsRefusedWithNothingSent() throws {
    let (harness, node, file) = try checkpointed()
    var bytes = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: file)))
    let original = bytes
    bytes[bytes.count / 2] ^= 4
    let damaged = harness.directory.appendingPathComponent("damaged.ckpt").path
    _ = FileManager.default.createFile(atPath: damaged, contents: Data(bytes))
    node.requests = []
    harness.errors = ""
    XCTAssertEqual(harness.run("restore", damaged, "--name", "copy"), 66)
    XCTAssertTrue(harness.errors.contains("corrupt"), harness.errors)
    XCTAssertTrue(harness.errors.contains("nothing was sent"), harness.errors)
    XCTAssertEqual(node.requests, [])
    let truncated = harness.directory.appendingPathComponent("cut.ckpt").path
    _ = FileManager.default.createFile(atPath: truncated, contents: Data(original.prefix(100)))
    XCTAssertEqual(harness.run("restore", truncated), 66)
    XCTAssertTrue(harness.errors.contains("truncated"), harness.errors)
    XCTAssertEqual(node.requests, [])

    // Taken on a VT-x node: refused on this AMD-V one before anything is sent to it.
    var checkpoint = try CheckpointFile.decode(original)
    checkpoint.metadata.backend = "vmx"
    checkpoint.metadata.vendor = "Intel"
    let other = harness.directory.appendingPathComponent("vmx.ckpt").path
    _ = FileManager.default.createFile(atPath: other, contents: Data(checkpoint.encoded()))
    XCTAssertEqual(harness.run("restore", other, "--node", "node0", "--name", "copy"), 77)
    XCTAssertTrue(harness.errors.contains("one vendor"), harness.errors)
    XCTAssertFalse(node.requests.contains { $0.hasPrefix("create") })
  }

  /// Issue 15's damaged files through `restore` itself: a flip in the header, in the saved
  /// state, in the memory, and a file cut short; each refused naming what is wrong, and
  /// nothing sent to the node.
  func testRestoreNamesTheDamagedPartAndSendsNothing() throws {
    let (harness, node, file) = try checkpointed()
    let original = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: file)))
    func section(_ kind: CheckpointFile.SectionKind) -> Range<Int> {
      let count = Int(original[10]) | Int(original[11]) << 8
      for index in 0..<count {
        let entry = CheckpointFile.headerSize + index * CheckpointFile.tableEntrySize
        func field(_ at: Int) -> Int {
          (0..<8).reduce(0) { $0 | Int(original[entry + at + $1]) << (8 * $1) }
        }
        if UInt32(field(0) & 0xFFFF_FFFF) == kind.rawValue {
          return field(8)..<field(8) + field(16)
        }
      }
      XCTFail("no \(kind.name) section")
      return 0..<0
    }
    let state = section(.savedState)
    let memory = section(.memory)
    let cases: [(String, [UInt8], String)] = [
      ("header", flipped(original, at: 16), "its header says"),
      ("reserved", flipped(original, at: 13), "reserved header fields are not zero"),
      (
        "state", flipped(original, at: state.lowerBound + state.count / 2),
        "the saved state section does not match its SHA-256"
      ),
      (
        "memory", flipped(original, at: memory.lowerBound + memory.count / 2),
        "the memory section does not match its SHA-256"
      ),
      ("trailer", flipped(original, at: original.count - 1), "the file does not match its SHA-256"),
      ("truncated", Array(original.dropLast(1)), "the checkpoint is truncated"),
    ]
    for (name, bytes, reason) in cases {
      let path = harness.directory.appendingPathComponent("\(name).ckpt").path
      _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
      node.requests = []
      harness.errors = ""
      XCTAssertEqual(harness.run("restore", path, "--name", "copy"), 66, name)
      XCTAssertTrue(harness.errors.contains(reason), "\(name): \(harness.errors)")
      XCTAssertTrue(harness.errors.contains("nothing was sent"), "\(name): \(harness.errors)")
      XCTAssertEqual(node.requests.filter { !$0.hasPrefix("list") }, [], name)
    }
    XCTAssertFalse(node.machines.contains { $0.name == "copy" })
  }

  private func flipped(_ bytes: [UInt8], at index: Int) -> [UInt8] {
    var copy = bytes
    copy[index] ^= 0x10
    return copy
  }
}
