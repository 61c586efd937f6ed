import Foundation
import XCTest

@testable import PeregrineProfiles

final class ClusterProfileTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "peregrine-cluster-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Data("kernel".utf8).write(to: directory.appendingPathComponent("vmlinuz"))
    try Data("flat".utf8).write(to: directory.appendingPathComponent("hello.bin"))
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  func write(_ name: String, _ text: String) throws -> String {
    let url = directory.appendingPathComponent(name)
    try Data(text.utf8).write(to: url)
    return url.path
  }

  func load(_ path: String) -> Result<ProfileDocument, ProfileErrors> {
    ProfileLoader().load(path: path)
  }

  func testInlineAndReferencedProfilesWithPlacement() throws {
    _ = try write("linux.xml", linuxProfile("  <nic1><mac>52:54:00:00:00:01</mac></nic1>"))
    let path = try write(
      "cluster.xml",
      """
      <cluster>
        <name>lab</name>
        <node name="node0"/>
        <node name="node1"/>
        <vm node="node0" file="linux.xml"/>
        <vm node="node1" file="linux.xml" name="linux-b"/>
        <vm>
          <profile><name>hello</name><memory>16</memory><flat>hello.bin</flat></profile>
        </vm>
      </cluster>
      """)
    guard case .failure(let errors) = load(path) else { return XCTFail("the copy's MAC repeats") }
    XCTAssertEqual(errors.diagnostics.map(\.kind), [.duplicate])
    XCTAssertEqual(errors.diagnostics.first?.line, 6)

    _ = try write("linux.xml", linuxProfile())
    guard case .success(.cluster(let cluster)) = load(path) else { return XCTFail("\(load(path))") }
    XCTAssertEqual(cluster.name, "lab")
    XCTAssertEqual(cluster.nodes, ["node0", "node1"])
    XCTAssertEqual(cluster.members.map(\.profile.name), ["linux", "linux-b", "hello"])
    XCTAssertEqual(cluster.members.map(\.node), ["node0", "node1", nil])
    XCTAssertEqual(
      cluster.members[0].profile.boot,
      .linux(kernel: directory.appendingPathComponent("vmlinuz").path, initrd: nil, commandLine: "")
    )
    XCTAssertEqual(
      cluster.members[2].profile.files.map(\.path),
      [directory.appendingPathComponent("hello.bin").path])
  }

  func testDuplicateVMNames() throws {
    _ = try write("linux.xml", linuxProfile())
    let path = try write(
      "cluster.xml",
      """
      <cluster>
        <name>lab</name>
        <vm file="linux.xml"/>
        <vm file="linux.xml"/>
      </cluster>
      """)
    guard case .failure(let errors) = load(path) else { return XCTFail("accepted") }
    XCTAssertEqual(errors.diagnostics.count, 1)
    XCTAssertEqual(errors.diagnostics[0].kind, .duplicateName)
    XCTAssertEqual(errors.diagnostics[0].line, 4)
    XCTAssertEqual(errors.diagnostics[0].file, path)
    XCTAssertTrue(errors.diagnostics[0].message.contains("first by the <vm> on line 3"))
  }

  func testErrorsInsideAReferencedProfileNameThatFile() throws {
    let linux = try write("linux.xml", linuxProfile("  <vcpus>99</vcpus>"))
    let path = try write(
      "cluster.xml",
      "<cluster>\n  <name>lab</name>\n  <vm file=\"linux.xml\"/>\n  <vm file=\"missing.xml\"/>\n</cluster>\n"
    )
    guard case .failure(let errors) = load(path) else { return XCTFail("accepted") }
    XCTAssertEqual(errors.diagnostics.count, 2)
    XCTAssertEqual(errors.diagnostics[0].file, linux)
    XCTAssertEqual(errors.diagnostics[0].line, 7)
    XCTAssertEqual(errors.diagnostics[0].kind, .outOfRange)
    XCTAssertEqual(errors.diagnostics[1].file, path)
    XCTAssertEqual(errors.diagnostics[1].line, 4)
    XCTAssertEqual(errors.diagnostics[1].kind, .fileNotFound)
  }

  func testStructuralErrors() throws {
    let path = try write(
      "cluster.xml",
      """
      <cluster>
        <name>lab</name>
        <node name="node0"/>
        <node name="node0"/>
        <node/>
        <vm node="node7"><profile><name>a</name><memory>16</memory><flat>hello.bin</flat></profile></vm>
        <vm/>
        <vm file="x.xml"><profile/></vm>
        <vm bogus="1" file="cluster.xml"/>
        <group/>
      </cluster>
      """)
    guard case .failure(let errors) = load(path) else { return XCTFail("accepted") }
    let found = errors.diagnostics.map { "\($0.line):\($0.kind.rawValue)" }
    XCTAssertEqual(
      Set(found),
      [
        "4:duplicate-name", "5:missing-attribute", "10:unknown-element", "6:unknown-node",
        "7:missing-element", "8:conflict", "9:unknown-attribute", "1:unknown-element",
      ])
  }

  func testAClusterNeedsANameAndVMs() {
    let found = diagnostics("<cluster>\n</cluster>")
    XCTAssertEqual(found.map(\.kind), [.missingElement, .missingElement])
  }

  func testUnknownRoot() {
    assertRefused(
      "<?xml version=\"1.0\"?>\n<vms/>", .unknownElement, atLine: 2,
      containing: "<profile> (one VM) or a <cluster>")
  }

  func testUnreadableProfile() {
    guard case .failure(let errors) = ProfileLoader().load(path: "/nonexistent/p.xml") else {
      return XCTFail("accepted")
    }
    XCTAssertEqual(errors.diagnostics.first?.kind, .fileNotFound)
    XCTAssertEqual(
      errors.description, "/nonexistent/p.xml:0:0: error: cannot read the profile: no such file")
  }
}
