import HypervisorCore
import XCTest

@testable import PeregrineProfiles

/// The XML profile's boot-time form must mean the same VM to the node's own parser.
final class ModuleLineTests: XCTestCase {
  func parsedByTheNode(_ line: String) throws -> VMProfile {
    try VMProfile.parse(Array(line.utf8)).get()
  }

  func testLinuxProfileConvertsAndTheNodeReadsItBack() throws {
    let profile = try XCTUnwrap(
      machine(
        linuxProfile(
          "  <vcpus>2</vcpus>\n  <initrd>initramfs.cpio.gz</initrd>\n  <cmdline>console=ttyS0 earlyprintk=serial,ttyS0,115200</cmdline>\n  <sched pin=\"2,3\">pinned</sched>"
        )))
    let modules = try profile.moduleLines().get()
    XCTAssertEqual(
      modules,
      [
        BootModule(
          file: "vmlinuz",
          commandLine:
            "vm name=linux mem=256M cpus=2 kind=linux sched=pinned pin=2,3 -- console=ttyS0 earlyprintk=serial,ttyS0,115200"
        ),
        BootModule(file: "initramfs.cpio.gz", commandLine: "initrd vm=linux"),
      ])
    let node = try parsedByTheNode(modules[0].commandLine)
    XCTAssertEqual(node.name, Array("linux".utf8))
    XCTAssertEqual(node.memorySize, 256 << 20)
    XCTAssertEqual(node.vcpuCount, 2)
    XCTAssertEqual(node.kind, .linux)
    XCTAssertEqual(node.scheduling, .pinned)
    XCTAssertEqual(node.pinnedCPUs, [2, 3])
    XCTAssertEqual(
      node.guestCommandLine, Array("console=ttyS0 earlyprintk=serial,ttyS0,115200".utf8))
    XCTAssertEqual(
      try profile.makeISOSpecification().get(),
      "vmlinuz:vm name=linux mem=256M cpus=2 kind=linux sched=pinned pin=2,3 -- console=ttyS0 earlyprintk=serial,ttyS0,115200;initramfs.cpio.gz:initrd vm=linux"
    )
  }

  func testFlatProfileAndSizes() throws {
    var profile = try XCTUnwrap(
      machine(
        "<profile><name>hello</name><memory unit=\"KiB\">4100</memory><flat load=\"0x7c00\" entry=\"07c0:0000\">h.bin</flat><sched>gang</sched></profile>"
      ))
    let line = try XCTUnwrap(profile.moduleLines().get().first?.commandLine)
    XCTAssertEqual(line, "vm name=hello mem=4100K cpus=1 load=0x7c00 entry=07c0:0000 sched=gang")
    let node = try parsedByTheNode(line)
    XCTAssertEqual(node.memorySize, 4100 << 10)
    XCTAssertEqual(node.loadAddress, 0x7c00)
    XCTAssertEqual(node.entrySegment, 0x7c0)
    XCTAssertEqual(node.entryOffset, 0)
    XCTAssertEqual(node.kind, .flat)
    XCTAssertEqual(node.scheduling, .gang)
    profile.memoryBytes = 2 << 30
    XCTAssertTrue(try profile.moduleLines().get()[0].commandLine.contains(" mem=2G "))
  }

  func testTheProfileLineOfAVMWithANICCarriesItsMAC() throws {
    let profile = try XCTUnwrap(
      machine(
        linuxProfile(
          "  <nic1><mac>52:54:00:00:00:01</mac></nic1>\n  <cmdline>init=\"/bin/sh\"</cmdline>")))
    XCTAssertEqual(
      profile.vmProfileLine,
      "vm name=linux mem=256M cpus=1 kind=linux nic=52:54:00:00:00:01 -- init=\"/bin/sh\"")
    let node = try parsedByTheNode(profile.vmProfileLine)
    XCTAssertEqual(node.guestCommandLine, Array("init=\"/bin/sh\"".utf8))
    XCTAssertEqual(node.nicMACs, [[0x52, 0x54, 0, 0, 0, 1]])
  }

  func testWhatTheModuleLineCannotCarry() throws {
    let withNIC = try XCTUnwrap(
      machine(linuxProfile("  <nic1><mac>52:54:00:00:00:01</mac></nic1>")))
    XCTAssertEqual(
      try withNIC.moduleLines().get().first?.commandLine.contains("nic=52:54:00:00:00:01"), true)
    let withDisk = try XCTUnwrap(machine(linuxProfile("  <image size=\"8\">d.img</image>")))
    XCTAssertEqual(withDisk.moduleLines(), .failure(.hasDisk))
    let quoted = try XCTUnwrap(machine(linuxProfile("  <cmdline>init=\"/bin/sh\"; x</cmdline>")))
    XCTAssertEqual(
      quoted.moduleLines(),
      .failure(.unsafeCharacters(what: "command line", characters: "'\"', ';'")))
    let spaced = try XCTUnwrap(
      machine(linuxProfile().replacingOccurrences(of: "<kernel>vmlinuz", with: "<kernel>my kernel"))
    )
    XCTAssertEqual(
      spaced.moduleLines(),
      .failure(.unsafeCharacters(what: "path my kernel", characters: "a space")))
  }
}
