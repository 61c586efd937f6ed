import HypervisorCore
import XCTest

@testable import PeregrineProfiles

final class MachineProfileTests: XCTestCase {
  func testFullLinuxProfile() throws {
    let profile = try XCTUnwrap(
      machine(
        """
        <?xml version="1.0"?>
        <profile>
          <name>debian</name>
          <type>peregrine</type>
          <memory unit="GiB">1</memory>
          <vcpus>2</vcpus>
          <kernel>/boot/vmlinuz</kernel>
          <initrd>/boot/initrd.img</initrd>
          <cmdline>
            console=ttyS0
            quiet
          </cmdline>
          <sched pin="0,1">pinned</sched>
          <image size="500">/vms/debian.img</image>
          <nic1><mac>52:54:00:12:34:56</mac><network>management</network></nic1>
          <nic2>
            <mac>02-00-00-00-00-02</mac>
            <ip>10.0.0.5/24</ip>
            <gateway>10.0.0.1</gateway>
          </nic2>
        </profile>
        """))
    XCTAssertEqual(profile.name, "debian")
    XCTAssertEqual(profile.type, .peregrine)
    XCTAssertEqual(profile.memoryBytes, 1 << 30)
    XCTAssertEqual(profile.vcpus, 2)
    XCTAssertEqual(
      profile.boot,
      .linux(
        kernel: "/boot/vmlinuz", initrd: "/boot/initrd.img", commandLine: "console=ttyS0 quiet"))
    XCTAssertEqual(
      profile.scheduling, MachineProfile.Scheduling(mode: .pinned, pinnedCPUs: [0, 1]))
    XCTAssertEqual(profile.disk, MachineProfile.Disk(path: "/vms/debian.img", sizeMiB: 500))
    XCTAssertEqual(profile.nics.count, 2)
    XCTAssertEqual(profile.nics[0].mac.description, "52:54:00:12:34:56")
    XCTAssertEqual(profile.nics[0].network, "management")
    XCTAssertNil(profile.nics[0].address)
    XCTAssertEqual(profile.nics[1].mac.octets, [2, 0, 0, 0, 0, 2])
    XCTAssertEqual(profile.nics[1].address?.description, "10.0.0.5/24")
    XCTAssertEqual(profile.nics[1].gateway?.description, "10.0.0.1")
  }

  func testDefaultsUnitAndFlatImage() throws {
    let profile = try XCTUnwrap(
      machine(
        """
        <profile>
          <name>hello</name>
          <memory>16</memory>
          <flat load="0x7c00" entry="0000:7c00">hello.bin</flat>
        </profile>
        """))
    XCTAssertEqual(profile.memoryBytes, 16 << 20, "MiB when no unit is given")
    XCTAssertEqual(profile.vcpus, 1)
    XCTAssertEqual(profile.type, .peregrine, "the seed's profiles have no <type>")
    XCTAssertEqual(profile.scheduling.mode, .shared)
    XCTAssertEqual(
      profile.boot,
      .flat(image: "hello.bin", loadAddress: 0x7c00, entrySegment: 0, entryOffset: 0x7c00))
  }

  func testMemoryUnits() throws {
    XCTAssertEqual(
      machine(
        linuxProfile().replacingOccurrences(of: "unit=\"MiB\">256", with: "unit=\"KiB\">4096"))?
        .memoryBytes, 4 << 20)
    XCTAssertEqual(
      machine(linuxProfile().replacingOccurrences(of: "unit=\"MiB\">256", with: "unit=\"GiB\">64"))?
        .memoryBytes, 64 << 30)
  }

  func testTheSeedProfileNamesWhatAPeregrineVMLacks() {
    let found = diagnostics(
      """
      <?xml version="1.0"?>
      <profile>
        <name>test</name>
        <image size="500">/home/user/vms/test.img</image>
        <nic1><mac>00:02:03:04:05:06</mac></nic1>
      </profile>
      """)
    XCTAssertEqual(found.map(\.kind), [.missingElement, .missingElement])
    XCTAssertEqual(found.map(\.line), [2, 2])
    XCTAssertTrue(found[0].message.contains("<memory>"))
    XCTAssertTrue(found[1].message.contains("no virtual disk"))
  }

  // MARK: Malformed XML

  func testMalformedXMLCarriesItsPosition() {
    assertRefused(
      "<profile>\n  <name>x</name>\n  <memory>256</memory\n</profile>\n", .malformedXML, atLine: 4,
      column: 1, containing: "'>'")
    assertRefused(
      "<profile>\n  <name>x</name>\n  <memory>256</nope>\n</profile>\n", .malformedXML, atLine: 3,
      containing: "does not match")
    assertRefused(
      "<profile>\n  <name>a & b</name>\n</profile>\n", .malformedXML, atLine: 2, containing: "&amp;"
    )
    assertRefused(
      "<profile>\n<name>x</name>\n", .malformedXML, atLine: 2, containing: "ends before")
    assertRefused("", .malformedXML, atLine: 1, containing: "malformed XML")
    assertRefused(
      "<profile></profile>\n<profile></profile>\n", .malformedXML, atLine: 2,
      containing: "malformed XML")
  }

  func testDocumentTypeDeclarationsAreRefused() {
    assertRefused(
      "<?xml version=\"1.0\"?>\n<!DOCTYPE p [<!ENTITY a \"aaaa\">]>\n<profile/>\n", .malformedXML,
      atLine: 2, column: 1,
      containing: "DOCTYPE")
  }

  // MARK: Unknown, missing, repeated

  func testUnknownElementIsReportedAtItsStartTag() {
    assertRefused(
      linuxProfile("  <disk>x</disk>"), .unknownElement, atLine: 7, column: 3,
      containing:
        "unknown element <disk> in <profile>; expected one of <name>, <type>, <memory>, <vcpus>, <kernel>, <initrd>, <cmdline>, <flat>, <sched>, <image>, <passthrough>, <nic1> ... <nic8>"
    )
  }

  func testUnknownAttribute() {
    assertRefused(
      linuxProfile("  <vcpus count=\"2\">2</vcpus>"), .unknownAttribute, atLine: 7,
      containing: "'count' on <vcpus>")
    assertRefused(
      "<profile bogus=\"1\">\n<name>x</name><memory>16</memory><kernel>k</kernel></profile>",
      .unknownAttribute, atLine: 1, containing: "takes no attributes")
  }

  func testElementInsideALeaf() {
    let found = diagnostics(linuxProfile("  <vcpus><n>2</n></vcpus>"))
    XCTAssertEqual(found.first?.kind, .unknownElement)
    XCTAssertEqual(found.first?.line, 7)
    XCTAssertEqual(found.first?.column, 10)
    XCTAssertTrue(found.first?.message.contains("holds text only") ?? false)
  }

  func testStrayText() {
    assertRefused(
      linuxProfile("  stray words"), .invalidValue, atLine: 2,
      containing: "unexpected text 'stray words'")
  }

  func testMissingName() {
    assertRefused(
      "<profile>\n  <memory>16</memory>\n  <kernel>k</kernel>\n</profile>", .missingElement,
      atLine: 1, containing: "no <name>")
  }

  func testEmptyName() {
    assertRefused(
      linuxProfile().replacingOccurrences(of: "<name>linux</name>", with: "<name> </name>"),
      .missingElement, atLine: 3, containing: "<name> is empty")
  }

  func testDuplicateElementNamesTheFirst() {
    assertRefused(
      linuxProfile("  <vcpus>1</vcpus>\n  <vcpus>2</vcpus>"), .duplicate, atLine: 8,
      containing: "first on line 7")
  }

  func testMissingImageSize() {
    assertRefused(
      linuxProfile("  <image>/d.img</image>"), .missingAttribute, atLine: 7, containing: "size=")
  }

  func testNICWithoutMAC() {
    assertRefused(
      linuxProfile("  <nic1><network>management</network></nic1>"), .missingElement, atLine: 7,
      containing: "no <mac>")
  }

  func testNICNumbering() {
    assertRefused(
      linuxProfile("  <nic0><mac>52:54:00:00:00:01</mac></nic0>"), .unknownElement, atLine: 7,
      containing: "<nic0>")
    assertRefused(
      linuxProfile("  <nic9><mac>52:54:00:00:00:01</mac></nic9>"), .unknownElement, atLine: 7,
      containing: "<nic9>")
    assertRefused(
      linuxProfile(
        "  <nic1><mac>52:54:00:00:00:01</mac></nic1>\n  <nic1><mac>52:54:00:00:00:02</mac></nic1>"),
      .duplicate, atLine: 8,
      containing: "<nic1> is given twice")
  }

  // MARK: Values

  func testNameCharactersAndLength() {
    assertRefused(
      linuxProfile().replacingOccurrences(of: "<name>linux</name>", with: "<name>a b</name>"),
      .invalidValue, atLine: 3, containing: "1-31 characters")
    assertRefused(
      linuxProfile().replacingOccurrences(
        of: "<name>linux</name>", with: "<name>\(String(repeating: "n", count: 32))</name>"),
      .invalidValue,
      atLine: 3, containing: "1-31")
  }

  func testUnknownType() {
    assertRefused(
      linuxProfile().replacingOccurrences(of: "peregrine</type>", with: "kvm</type>"), .unknownType,
      atLine: 4, containing: "'kvm'")
  }

  func testMemoryOutOfRangeAndMalformed() {
    let cases: [(String, ProfileDiagnostic.Kind, String)] = [
      ("unit=\"GiB\">65", .outOfRange, "out of range"),
      ("unit=\"KiB\">512", .outOfRange, "out of range"),
      ("unit=\"MiB\">0", .outOfRange, "out of range"),
      ("unit=\"MiB\">-1", .invalidValue, "whole number"),
      ("unit=\"MiB\">1.5", .invalidValue, "whole number"),
      ("unit=\"KiB\">1026", .invalidValue, "4 KiB pages"),
      ("unit=\"MB\">256", .invalidValue, "unknown memory unit 'MB'"),
      ("unit=\"MiB\">99999999999999999999", .invalidValue, "whole number"),
    ]
    for (replacement, kind, message) in cases {
      assertRefused(
        linuxProfile().replacingOccurrences(of: "unit=\"MiB\">256", with: replacement), kind,
        atLine: 5, containing: message)
    }
  }

  func testVCPURange() {
    assertRefused(linuxProfile("  <vcpus>0</vcpus>"), .outOfRange, atLine: 7, containing: "1 to 64")
    assertRefused(
      linuxProfile("  <vcpus>65</vcpus>"), .outOfRange, atLine: 7, containing: "1 to 64")
    assertRefused(
      linuxProfile("  <vcpus>two</vcpus>"), .invalidValue, atLine: 7, containing: "whole number")
    XCTAssertEqual(machine(linuxProfile("  <vcpus>64</vcpus>"))?.vcpus, 64)
  }

  func testDiskSize() {
    assertRefused(
      linuxProfile("  <image size=\"0\">/d.img</image>"), .outOfRange, atLine: 7,
      containing: "1 to 1048576")
    assertRefused(
      linuxProfile("  <image size=\"1048577\">/d.img</image>"), .outOfRange, atLine: 7,
      containing: "MiB")
    assertRefused(
      linuxProfile("  <image size=\"big\">/d.img</image>"), .invalidValue, atLine: 7,
      containing: "MiB")
  }

  func testScheduling() {
    assertRefused(
      linuxProfile("  <sched>fifo</sched>"), .invalidValue, atLine: 7,
      containing: "shared, pinned or gang")
    assertRefused(
      linuxProfile("  <vcpus>2</vcpus>\n  <sched pin=\"0\">pinned</sched>"), .invalidValue,
      atLine: 8, containing: "1 CPU(s) for 2 vCPU(s)")
    assertRefused(
      linuxProfile("  <vcpus>2</vcpus>\n  <sched pin=\"3,3\">gang</sched>"), .invalidValue,
      atLine: 8, containing: "CPU 3 twice")
    assertRefused(
      linuxProfile("  <sched pin=\"4096\">pinned</sched>"), .invalidValue, atLine: 7,
      containing: "0 to 4095")
    assertRefused(
      linuxProfile("  <sched pin=\"x\">pinned</sched>"), .invalidValue, atLine: 7, containing: "'x'"
    )
    XCTAssertEqual(
      machine(linuxProfile("  <vcpus>2</vcpus>\n  <sched pin=\"1,1\">shared</sched>"))?.scheduling
        .pinnedCPUs, [1, 1])
    XCTAssertEqual(
      machine(linuxProfile("  <vcpus>4</vcpus>\n  <sched>gang</sched>"))?.scheduling,
      .init(mode: .gang, pinnedCPUs: nil))
  }

  func testCommandLine() {
    assertRefused(
      linuxProfile("  <cmdline>\(String(repeating: "x", count: 2048))</cmdline>"), .outOfRange,
      atLine: 7, containing: "2048 bytes")
    assertRefused(
      linuxProfile("  <cmdline>a&#x7F;b</cmdline>"), .invalidValue, atLine: 7,
      containing: "control characters")
  }

  func testBootConflicts() {
    assertRefused(
      linuxProfile("  <flat>hello.bin</flat>"), .conflict, atLine: 7, containing: "not both")
    assertRefused(
      "<profile><name>x</name><memory>16</memory>\n<flat>h.bin</flat>\n<cmdline>quiet</cmdline></profile>",
      .conflict, atLine: 3,
      containing: "<cmdline> goes with a Linux <kernel>")
    assertRefused(
      linuxProfile().replacingOccurrences(
        of: "<kernel>vmlinuz</kernel>", with: "<flat entry=\"7c00\">h.bin</flat>"), .invalidValue,
      atLine: 6, containing: "SEGMENT:OFFSET")
    assertRefused(
      linuxProfile().replacingOccurrences(
        of: "<kernel>vmlinuz</kernel>", with: "<flat load=\"0x100000\">h.bin</flat>"),
      .invalidValue, atLine: 6, containing: "below 1 MiB")
  }

  func testBadMACs() {
    let cases: [(String, String)] = [
      ("52:54:00:12:34", "six hexadecimal octets"),
      ("52:54:00:12:34:5g", "six hexadecimal octets"),
      ("52:54:00:12:34:5", "six hexadecimal octets"),
      ("52:54:00:12:34:56:78", "six hexadecimal octets"),
      ("52-54:00:12:34:56", "six hexadecimal octets"),
      ("01:00:5e:00:00:01", "multicast"),
      ("ff:ff:ff:ff:ff:ff", "multicast"),
      ("00:00:00:00:00:00", "all zeros"),
    ]
    for (mac, message) in cases {
      assertRefused(
        linuxProfile("  <nic1>\n    <mac>\(mac)</mac>\n  </nic1>"), .invalidMAC, atLine: 8,
        column: 5, containing: message)
    }
  }

  func testDuplicateMACInOneProfile() {
    assertRefused(
      linuxProfile(
        "  <nic1><mac>52:54:00:00:00:01</mac></nic1>\n  <nic2><mac>52:54:00:00:00:01</mac></nic2>"),
      .duplicate, atLine: 8,
      containing: "also <nic1>'s")
  }

  func testNICAddresses() {
    assertRefused(
      linuxProfile("  <nic1><mac>52:54:00:00:00:01</mac><ip>10.0.0.256/24</ip></nic1>"),
      .invalidValue, atLine: 7, containing: "IPv4 address with its prefix")
    assertRefused(
      linuxProfile("  <nic1><mac>52:54:00:00:00:01</mac><ip>10.0.0.5</ip></nic1>"), .invalidValue,
      atLine: 7, containing: "prefix")
    assertRefused(
      linuxProfile(
        "  <nic1><mac>52:54:00:00:00:01</mac><ip>10.0.0.5/24</ip><gateway>10.0.1.1</gateway></nic1>"
      ), .invalidValue, atLine: 7,
      containing: "outside the NIC's subnet")
    assertRefused(
      linuxProfile("  <nic1><mac>52:54:00:00:00:01</mac><gateway>10.0.1.1</gateway></nic1>"),
      .conflict, atLine: 7, containing: "needs an <ip>")
    assertRefused(
      linuxProfile("  <nic1><mac>52:54:00:00:00:01</mac><network>a b</network></nic1>"),
      .invalidValue, atLine: 7, containing: "<network>")
  }

  func testEveryProblemIsReportedInOneRound() {
    let found = diagnostics(
      """
      <profile>
        <name>ok</name>
        <memory unit="TiB">1</memory>
        <vcpus>0</vcpus>
        <kernel>k</kernel>
        <nic1><mac>ff:ff:ff:ff:ff:ff</mac></nic1>
        <colour>blue</colour>
      </profile>
      """)
    XCTAssertEqual(found.map(\.line).sorted(), [3, 4, 6, 7])
  }

  func testFilesAreResolvedBesideTheProfileAndChecked() {
    let files = ProfileFiles(directory: "/profiles", exists: { $0 == "/build/linux/vmlinuz" })
    let found = diagnostics(
      linuxProfile("  <initrd>initrd.gz</initrd>").replacingOccurrences(
        of: "<kernel>vmlinuz", with: "<kernel>../build/linux/vmlinuz"),
      files: files)
    XCTAssertEqual(found.count, 1)
    XCTAssertEqual(found.first?.kind, .fileNotFound)
    XCTAssertEqual(found.first?.line, 7)
    XCTAssertTrue(found.first?.message.contains("/profiles/initrd.gz") ?? false)

    let all = ProfileFiles(directory: "/profiles", exists: { _ in true })
    guard
      case .success(.machine(let profile)) = parseProfile(
        linuxProfile().replacingOccurrences(of: "<kernel>vmlinuz", with: "<kernel>../k"), files: all
      )
    else {
      return XCTFail("refused")
    }
    XCTAssertEqual(profile.boot, .linux(kernel: "/k", initrd: nil, commandLine: ""))
  }

  func testMACAddressParsing() {
    XCTAssertEqual(try MACAddress.parse("02:AB:cd:00:00:01").get().description, "02:ab:cd:00:00:01")
    XCTAssertTrue(try MACAddress.parse("02:00:00:00:00:01").get().isLocallyAdministered)
    XCTAssertFalse(try MACAddress.parse("00:02:03:04:05:06").get().isLocallyAdministered)
    XCTAssertEqual(MACAddress.parse("03:00:00:00:00:01"), .failure(.multicast))
  }
}

final class PassthroughProfileTests: XCTestCase {
  func testPassthroughFunctions() throws {
    let profile = try XCTUnwrap(
      machine(
        linuxProfile(
          """
            <passthrough pci="0000:00:05.0"/>
            <passthrough pci="01:00.1"/>
          """)))
    XCTAssertEqual(
      profile.passthrough,
      [
        PassthroughFunction(segment: 0, bus: 0, device: 5, function: 0)!,
        PassthroughFunction(segment: 0, bus: 1, device: 0, function: 1)!,
      ])
    XCTAssertEqual(try XCTUnwrap(machine(linuxProfile())).passthrough, [])
  }

  func testBadPassthroughIsRefusedWithItsLine() {
    assertRefused(
      linuxProfile("<passthrough pci=\"0000:00:20.0\"/>"), .invalidValue, atLine: 7,
      containing: "is not a PCI address such as 0000:00:05.0")
    assertRefused(
      linuxProfile("<passthrough/>"), .missingAttribute, atLine: 7,
      containing: "<passthrough> has no pci=")
    assertRefused(
      linuxProfile("<passthrough pci=\"00:05.0\" bar=\"1\"/>"), .unknownAttribute, atLine: 7,
      containing: "bar")
    assertRefused(
      linuxProfile("<passthrough pci=\"00:05.0\"/>\n<passthrough pci=\"0000:00:05.0\"/>"),
      .duplicate, atLine: 8, containing: "already passed through")
  }

  func testThePassthroughProfileHasNoModuleLine() throws {
    let profile = try XCTUnwrap(machine(linuxProfile("<passthrough pci=\"00:05.0\"/>")))
    guard case .failure(.hasPassthrough) = profile.moduleLines() else {
      return XCTFail("a <passthrough> profile got a boot-time module line")
    }
  }
}
