import Foundation
import XCTest

@testable import PeregrineCommands

/// `peregrine image ...`, and disks through `create`, `image save` and `destroy` against
/// fake nodes (docs/cli.md, "Disk images").
final class DiskImageCommandTests: XCTestCase {
  private func store(_ harness: Harness) -> DiskImageStore { harness.environment.state.images }

  private func allocated(_ path: String) -> UInt64 {
    var info = stat()
    XCTAssertEqual(stat(path, &info), 0)
    return UInt64(info.st_blocks) * 512
  }

  /// A 2 MiB image with a pattern in its first and its 1500th KiB, zeros elsewhere.
  private func pattern() -> [UInt8] {
    var image = [UInt8](repeating: 0, count: 2 << 20)
    for index in 0..<1024 { image[index] = UInt8(index % 251) }
    for index in 0..<3000 { image[1500 * 1024 + index] = 0xA5 }
    return image
  }

  private func diskProfile(_ harness: Harness, disk: String, sizeMiB: Int = 2, memory: Int = 16)
    throws -> String
  {
    _ = try harness.writeFile("hello.bin", "flat guest")
    return try harness.writeFile(
      "vm.xml",
      """
      <profile><name>vm</name><memory>\(memory)</memory><flat>hello.bin</flat>
      <image size="\(sizeMiB)">\(disk)</image></profile>
      """)
  }

  // MARK: image create, import, list, remove

  func testCreateMakesASparseImageListShowsItAndRemoveDeletesIt() throws {
    let harness = try Harness()
    XCTAssertEqual(harness.run("image", "create", "blank", "--size", "64M"), 0, harness.errors)
    let file = store(harness).file("blank").path
    XCTAssertEqual(
      try FileManager.default.attributesOfItem(atPath: file)[.size] as? UInt64, 64 << 20)
    XCTAssertLessThan(allocated(file), 64 << 10, "a new image is a hole")
    XCTAssertEqual(harness.run("image", "list", "--json"), 0)
    let images = try XCTUnwrap(try harness.json()["images"] as? [[String: Any]])
    XCTAssertEqual(images.map { $0["name"] as? String }, ["blank"])
    XCTAssertEqual(images[0]["size"] as? Int, 64 << 20)
    XCTAssertNotNil(images[0]["allocated_bytes"] as? Int)
    XCTAssertNotNil(images[0]["created"] as? String)
    XCTAssertNotNil(images[0]["modified"] as? String)
    XCTAssertEqual(harness.run("image", "list"), 0)
    XCTAssertTrue(harness.output.contains("blank"), harness.output)
    XCTAssertTrue(harness.output.contains("64 MiB"), harness.output)

    XCTAssertEqual(harness.run("image", "create", "blank", "--size", "1M"), 73)
    XCTAssertTrue(harness.errors.contains("already in the store"), harness.errors)
    XCTAssertEqual(harness.run("image", "remove", "blank"), 0)
    XCTAssertFalse(FileManager.default.fileExists(atPath: file))
    XCTAssertEqual(harness.run("image", "remove", "blank"), 66)
    XCTAssertTrue(harness.errors.contains("no image named 'blank'"), harness.errors)
    XCTAssertEqual(harness.run("image", "list"), 0)
    XCTAssertEqual(harness.output, "no images\n")
  }

  func testBadSizesAndNamesAreUsageErrors() throws {
    let harness = try Harness()
    for size in ["0", "12X", "1500K", "M", "2.5G", "99999999999T"] {
      XCTAssertEqual(harness.run("image", "create", "x", "--size", size), 64, size)
      XCTAssertTrue(harness.errors.contains("is not a disk size"), harness.errors)
    }
    for name in ["../x", ".hidden", "a b", String(repeating: "n", count: 49)] {
      XCTAssertEqual(harness.run("image", "create", name, "--size", "1M"), 64, name)
      XCTAssertTrue(harness.errors.contains("is not an image name"), harness.errors)
    }
    XCTAssertEqual(try DiskImageStore.parseSize("500M"), 500 << 20)
    XCTAssertEqual(try DiskImageStore.parseSize("2G"), 2 << 30)
    XCTAssertEqual(try DiskImageStore.parseSize("64MiB"), 64 << 20)
    XCTAssertEqual(try DiskImageStore.parseSize("2048K"), 2 << 20)
    XCTAssertTrue(try store(harness).list().isEmpty)
  }

  func testCreateExt4MakesAFilesystem() throws {
    guard
      FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4")
        || FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.ext4")
    else { throw XCTSkip("mkfs.ext4 is not installed (scripts/install-deps.sh)") }
    let harness = try Harness()
    XCTAssertEqual(
      harness.run("image", "create", "fs", "--size", "16M", "--format", "ext4"), 0, harness.errors)
    let bytes = try store(harness).read("fs")
    XCTAssertEqual(bytes.count, 16 << 20)
    // ext4's superblock at 1024, its magic 0xEF53 at offset 56 (little-endian).
    XCTAssertEqual(bytes[1024 + 56], 0x53)
    XCTAssertEqual(bytes[1024 + 57], 0xEF)
    XCTAssertLessThan(allocated(store(harness).file("fs").path), 16 << 20)
  }

  func testImportKeepsTheBytesSparseAndRefusesANameInUse() throws {
    let harness = try Harness()
    let source = URL(fileURLWithPath: try harness.writeFile("disk.raw", ""))
    try Data(pattern()).write(to: source)
    XCTAssertEqual(harness.run("image", "import", source.path), 0, harness.errors)
    XCTAssertEqual(try store(harness).read("disk"), pattern())
    // Two 4 KiB blocks hold data: the rest stays a hole.
    XCTAssertLessThanOrEqual(allocated(store(harness).file("disk").path), 16 << 10)
    XCTAssertEqual(harness.run("image", "import", source.path), 73)
    XCTAssertEqual(harness.run("image", "import", source.path, "--name", "copy"), 0)
    XCTAssertEqual(try store(harness).read("copy"), pattern())
    XCTAssertEqual(harness.run("image", "import", "/no/such/file", "--name", "x"), 66)
    XCTAssertTrue(harness.errors.contains("cannot read /no/such/file"), harness.errors)
  }

  // MARK: create with a disk

  func testCreateSendsTheStoreImageAndCountsTheChunksLeftOut() throws {
    let node = FakeNode()
    let harness = try Harness(nodes: ["node0": node])
    try store(harness).store(pattern(), as: "disk0", origin: "import", replacing: false)
    let path = try diskProfile(harness, disk: "disk0")
    XCTAssertEqual(harness.run("create", path, "--json"), 0, harness.errors)
    XCTAssertEqual(node.disks["vm"], pattern())
    let created = try XCTUnwrap((try harness.json()["created"] as? [[String: Any]])?.first)
    let disk = try XCTUnwrap(created["disk"] as? [String: Any])
    // KiB 0, and KiBs 1500 to 1502 hold the pattern; 2044 chunks of zeros stay home.
    XCTAssertEqual(disk["sent_chunks"] as? Int, 4)
    XCTAssertEqual(disk["skipped_chunks"] as? Int, 2044)
    XCTAssertEqual(
      DiskRecords.entry(of: "vm", in: harness.environment.state)?.source, .store("disk0"))
  }

  func testASmallerImageGrowsToTheProfilesSizeAndALargerOneIsRefused() throws {
    let node = FakeNode()
    let harness = try Harness(nodes: ["node0": node])
    try store(harness).store(pattern(), as: "disk0", origin: "import", replacing: false)
    XCTAssertEqual(harness.run("create", try diskProfile(harness, disk: "disk0", sizeMiB: 1)), 65)
    XCTAssertTrue(harness.errors.contains("more than its <image size=\"1\">"), harness.errors)
    XCTAssertFalse(node.requests.contains { $0.hasPrefix("create") })
    XCTAssertEqual(harness.run("create", try diskProfile(harness, disk: "disk0", sizeMiB: 4)), 0)
    XCTAssertEqual(node.disks["vm"]?.count, 4 << 20)
    XCTAssertEqual(Array(node.disks["vm"]![..<(2 << 20)]), pattern())
  }

  func testAMissingImageIsRefusedBeforeAnythingIsSent() throws {
    let node = FakeNode()
    let harness = try Harness(nodes: ["node0": node])
    XCTAssertEqual(harness.run("create", try diskProfile(harness, disk: "nosuch")), 66)
    XCTAssertTrue(harness.errors.contains("no image 'nosuch' in the store"), harness.errors)
    XCTAssertFalse(node.requests.contains { $0.hasPrefix("create") }, "\(node.requests)")
    // A file next to the profile of that name is used when the store has none.
    _ = try harness.writeFile("nosuch", "disk bytes")
    XCTAssertEqual(
      harness.run("create", try diskProfile(harness, disk: "nosuch")), 0, harness.errors)
    XCTAssertEqual(
      DiskRecords.entry(of: "vm", in: harness.environment.state)?.source,
      .file(harness.directory.appendingPathComponent("nosuch").path))
  }

  func testAnImageLargerThanTheNodeIsRefusedBeforeTransfer() throws {
    let node = FakeNode(freeMemory: 64 << 20)
    let harness = try Harness(nodes: ["node0": node])
    XCTAssertEqual(harness.run("image", "create", "big", "--size", "100M"), 0)
    XCTAssertEqual(harness.run("create", try diskProfile(harness, disk: "big", sizeMiB: 100)), 77)
    XCTAssertTrue(
      harness.errors.contains(
        "VM 'vm' needs 116 MiB (16 MiB of memory and a 100 MiB disk image, held in the node's memory) and node0 has 64 MiB free"
      ), harness.errors)
    XCTAssertFalse(node.requests.contains { $0.hasPrefix("create") }, "\(node.requests)")
  }

  // MARK: image save, destroy

  private func createdWithDisk() throws -> (Harness, FakeNode) {
    let node = FakeNode()
    let harness = try Harness(nodes: ["node0": node])
    XCTAssertEqual(harness.run("image", "create", "disk0", "--size", "2M"), 0)
    XCTAssertEqual(
      harness.run("create", try diskProfile(harness, disk: "disk0")), 0, harness.errors)
    node.disks["vm"] = pattern()  // what the guest wrote
    node.requests = []
    return (harness, node)
  }

  func testSavePausesARunningVMReadsItsDiskBackAndResumesIt() throws {
    let (harness, node) = try createdWithDisk()
    XCTAssertEqual(harness.run("image", "save", "vm"), 0, harness.errors)
    XCTAssertEqual(try store(harness).read("disk0"), pattern())
    XCTAssertEqual(
      node.requests.filter { !$0.hasPrefix("list") }, ["pause vm", "read disk vm", "unpause vm"])
    XCTAssertEqual(node.machines.first?.state, .running)
    XCTAssertTrue(
      harness.output.contains("saved the disk of vm on node0 to image 'disk0'"), harness.output)

    XCTAssertEqual(harness.run("image", "save", "vm", "--as", "copy", "--json"), 0, harness.errors)
    XCTAssertEqual(try store(harness).read("copy"), pattern())
    XCTAssertEqual(try harness.json()["saved_to"] as? String, "image 'copy'")
    XCTAssertEqual(harness.run("image", "save", "vm", "--as", "copy"), 73)
    XCTAssertEqual(harness.run("image", "save", "nosuch"), 67)
  }

  func testASaveWaitsForThePauseToTakeEffect() throws {
    let (harness, node) = try createdWithDisk()
    node.readsBeforePaused = 3
    XCTAssertEqual(harness.run("image", "save", "vm"), 0, harness.errors)
    XCTAssertEqual(node.requests.filter { $0 == "read disk vm" }.count, 4)
    XCTAssertEqual(harness.sleeps, 3)
    XCTAssertEqual(try store(harness).read("disk0"), pattern())
    // A pause that never takes effect: given up after 100 tries, the VM resumed.
    node.readsBeforePaused = 1000
    XCTAssertEqual(harness.run("image", "save", "vm"), 77)
    XCTAssertTrue(harness.errors.contains("pause the VM first"), harness.errors)
    XCTAssertEqual(node.machines.first?.state, .running)
  }

  func testAPausedVMIsSavedAndStaysPaused() throws {
    let (harness, node) = try createdWithDisk()
    try node.setState("vm", .paused)
    XCTAssertEqual(harness.run("image", "save", "vm"), 0, harness.errors)
    XCTAssertEqual(node.requests.filter { !$0.hasPrefix("list") }, ["read disk vm"])
    XCTAssertEqual(node.machines.first?.state, .paused)
  }

  func testDestroyBringsTheDiskBackFirst() throws {
    let (harness, node) = try createdWithDisk()
    XCTAssertEqual(harness.run("destroy", "vm"), 0, harness.errors)
    XCTAssertEqual(try store(harness).read("disk0"), pattern())
    XCTAssertEqual(
      node.requests.filter { !$0.hasPrefix("list") }, ["pause vm", "read disk vm", "destroy vm"])
    XCTAssertTrue(node.machines.isEmpty)
    XCTAssertNil(node.disks["vm"])
    XCTAssertNil(DiskRecords.entry(of: "vm", in: harness.environment.state))
  }

  func testDestroyWithDiscardDiskLeavesTheStoreAsItWas() throws {
    let (harness, node) = try createdWithDisk()
    XCTAssertEqual(harness.run("destroy", "vm", "--discard-disk"), 0, harness.errors)
    XCTAssertEqual(try store(harness).read("disk0"), [UInt8](repeating: 0, count: 2 << 20))
    XCTAssertFalse(node.requests.contains("read disk vm"), "\(node.requests)")
    XCTAssertTrue(harness.output.contains("its disk discarded"), harness.output)
    XCTAssertTrue(node.machines.isEmpty)
  }

  func testAVMThatEndedKeepsItsDiskUntilDestroy() throws {
    let (harness, node) = try createdWithDisk()
    node.end("vm")
    XCTAssertEqual(harness.run("image", "save", "vm", "--as", "ended"), 0, harness.errors)
    XCTAssertEqual(try store(harness).read("ended"), pattern())
    XCTAssertFalse(node.requests.contains("pause vm"))
    XCTAssertEqual(harness.run("destroy", "vm"), 0, harness.errors)
    XCTAssertEqual(try store(harness).read("disk0"), pattern())
    XCTAssertNil(node.disks["vm"], "the node frees the kept disk")
    XCTAssertEqual(harness.run("destroy", "vm"), 67)
  }

  func testASaveThatFailsLeavesTheVMAndTheImage() throws {
    let (harness, node) = try createdWithDisk()
    node.disks["vm"] = nil  // the node has no disk for it
    XCTAssertEqual(harness.run("destroy", "vm"), 77)
    XCTAssertTrue(harness.errors.contains("was not destroyed"), harness.errors)
    XCTAssertTrue(harness.errors.contains("--discard-disk"), harness.errors)
    XCTAssertEqual(node.machines.map(\.name), ["vm"])
    XCTAssertEqual(try store(harness).read("disk0"), [UInt8](repeating: 0, count: 2 << 20))
  }

  func testDestroyingAClusterBringsEachDiskBack() throws {
    let node = FakeNode()
    let harness = try Harness(nodes: ["node0": node])
    XCTAssertEqual(harness.run("image", "create", "disk0", "--size", "2M"), 0)
    _ = try diskProfile(harness, disk: "disk0")
    let cluster = try harness.writeFile(
      "pair.xml",
      "<cluster><name>pair</name><vm file=\"vm.xml\" name=\"a\"/></cluster>")
    XCTAssertEqual(harness.run("create", cluster), 0, harness.errors)
    node.disks["a"] = pattern()
    XCTAssertEqual(harness.run("destroy", "pair"), 0, harness.errors)
    XCTAssertEqual(try store(harness).read("disk0"), pattern())
    XCTAssertTrue(node.machines.isEmpty)
    XCTAssertNil(DiskRecords.entry(of: "a", in: harness.environment.state))
  }

  func testARolledBackCreateForgetsItsDisks() throws {
    let node0 = FakeNode()
    let node1 = FakeNode()
    node1.createFailure = .refused(node: "node1", reason: "no")
    let harness = try Harness(nodes: ["node0": node0, "node1": node1])
    XCTAssertEqual(harness.run("image", "create", "disk0", "--size", "2M"), 0)
    _ = try diskProfile(harness, disk: "disk0")
    let cluster = try harness.writeFile(
      "pair.xml",
      """
      <cluster><name>pair</name><vm node="node0" file="vm.xml" name="a"/>\
      <vm node="node1" file="vm.xml" name="b"/></cluster>
      """)
    XCTAssertEqual(harness.run("create", cluster), 77, harness.errors)
    XCTAssertTrue(node0.machines.isEmpty)
    XCTAssertNil(DiskRecords.entry(of: "a", in: harness.environment.state))
  }
}
