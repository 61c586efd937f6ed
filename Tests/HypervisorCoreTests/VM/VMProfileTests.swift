import HypervisorCore
import XCTest

final class VMProfileTests: XCTestCase {
  private func parse(_ line: String) -> Result<VMProfile, VMProfileError> {
    VMProfile.parse(Array(line.utf8))
  }

  private func assertError(
    _ line: String, _ expected: VMProfileError, file: StaticString = #filePath,
    line number: UInt = #line
  ) {
    switch parse(line) {
    case .success(let profile):
      XCTFail("'\(line)' parsed as \(profile)", file: file, line: number)
    case .failure(let error):
      XCTAssertEqual(error, expected, "'\(line)'", file: file, line: number)
    }
  }

  private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

  // MARK: Good profiles

  func testFullProfile() throws {
    let profile = try parse(
      "vm name=long-mode_2.test mem=32M load=0x8000 entry=07C0:0400 cpus=4 unmapped=ignore storm=off"
    ).get()
    XCTAssertEqual(profile.name, key("long-mode_2.test"))
    XCTAssertEqual(profile.memorySize, 32 << 20)
    XCTAssertEqual(profile.loadAddress, 0x8000)
    XCTAssertEqual(profile.entrySegment, 0x07C0)
    XCTAssertEqual(profile.entryOffset, 0x0400)
    XCTAssertEqual(profile.vcpuCount, 4)
    XCTAssertEqual(profile.unmapped, .ignore)
    XCTAssertFalse(profile.stormDetection)
  }

  func testDefaults() throws {
    let profile = try parse("vm name=a").get()
    XCTAssertEqual(profile.memorySize, 16 << 20)
    XCTAssertEqual(profile.loadAddress, 0x1000)
    XCTAssertEqual(profile.entrySegment, 0)
    XCTAssertEqual(profile.entryOffset, 0x1000)
    XCTAssertEqual(profile.vcpuCount, 1)
    XCTAssertEqual(profile.unmapped, .stop)
    XCTAssertTrue(profile.stormDetection)
  }

  func testSizeSuffixesAndNumberForms() throws {
    XCTAssertEqual(try parse("vm name=a mem=1G").get().memorySize, 1 << 30)
    XCTAssertEqual(try parse("vm name=a mem=2048k").get().memorySize, 2 << 20)
    XCTAssertEqual(try parse("vm name=a mem=0x200000").get().memorySize, 2 << 20)
    XCTAssertEqual(try parse("vm name=a mem=1048576").get().memorySize, 1 << 20)
    XCTAssertEqual(try parse("vm name=a mem=64G").get().memorySize, 64 << 30, "the maximum")
    XCTAssertEqual(try parse("vm name=a load=4096").get().loadAddress, 4096)
    XCTAssertEqual(try parse("vm name=a cpus=64").get().vcpuCount, 64)
    XCTAssertEqual(try parse("vm  name=a   cpus=0x2 ").get().vcpuCount, 2, "extra spaces are fine")
    XCTAssertEqual(try parse("vm name=a unmapped=stop storm=on").get().unmapped, .stop)
  }

  func testNameOfThirtyOneCharacters() throws {
    let name = String(repeating: "n", count: 31)
    XCTAssertEqual(try parse("vm name=\(name)").get().name, key(name))
  }

  // MARK: Errors

  func testNotAProfile() {
    assertError("", .notAProfile)
    assertError("linux console=ttyS0", .notAProfile)
    assertError("vmx name=a", .notAProfile)
    assertError("vm=1 name=a", .notAProfile)
    assertError("name=a vm", .notAProfile)
  }

  func testMissingName() {
    assertError("vm", .missingName)
    assertError("vm mem=16M cpus=2", .missingName)
  }

  func testBadNameCharacters() {
    assertError("vm name=a/b", .invalidName)
    assertError("vm name=caf\u{E9}", .invalidName)
    assertError("vm name=a:b", .invalidName)
  }

  func testNameTooLong() {
    assertError("vm name=\(String(repeating: "n", count: 32))", .invalidName)
  }

  func testMissingValue() {
    assertError("vm name=", .missingValue(key("name")))
    assertError("vm name=a mem", .missingValue(key("mem")))
    assertError("vm name=a cpus=", .missingValue(key("cpus")))
  }

  func testMemoryOutOfRangeOrMisaligned() {
    assertError("vm name=a mem=512K", .invalidValue(key("mem")))
    assertError("vm name=a mem=1048575", .invalidValue(key("mem")))
    assertError("vm name=a mem=65G", .invalidValue(key("mem")))
    assertError("vm name=a mem=1048577", .invalidValue(key("mem")))
    assertError("vm name=a mem=0x100800", .invalidValue(key("mem")))
    assertError("vm name=a mem=16Q", .invalidValue(key("mem")))
    assertError("vm name=a mem=M", .invalidValue(key("mem")))
    assertError("vm name=a mem=99999999999999999999G", .invalidValue(key("mem")))
    assertError("vm name=a mem=17179869184G", .invalidValue(key("mem")))  // overflows when shifted
  }

  func testBadEntry() {
    assertError("vm name=a entry=1000", .invalidValue(key("entry")))
    assertError("vm name=a entry=10000:0", .invalidValue(key("entry")))
    assertError("vm name=a entry=0:10000", .invalidValue(key("entry")))
    assertError("vm name=a entry=0:", .invalidValue(key("entry")))
    assertError("vm name=a entry=:100", .invalidValue(key("entry")))
    assertError("vm name=a entry=0g:100", .invalidValue(key("entry")))
  }

  func testBadLoad() {
    assertError("vm name=a load=0x", .invalidValue(key("load")))
    assertError("vm name=a load=12ab", .invalidValue(key("load")))
  }

  func testCPUCountOutOfRange() {
    assertError("vm name=a cpus=0", .invalidValue(key("cpus")))
    assertError("vm name=a cpus=65", .invalidValue(key("cpus")))
    assertError("vm name=a cpus=-1", .invalidValue(key("cpus")))
  }

  func testUnknownKey() {
    assertError("vm name=a disks=hd0", .unknownKey(key("disks")))
    assertError("vm name=a Name=b", .unknownKey(key("Name")))
  }

  func testRepeatedKeyIsRefusedAndNamed() {
    assertError("vm name=a mem=16M mem=32M", .repeatedKey(key("mem")))
    assertError("vm name=a mem=16M mem=16M", .repeatedKey(key("mem")))
    assertError("vm name=a name=b", .repeatedKey(key("name")))
    assertError("vm name=a storm=on cpus=2 storm=off", .repeatedKey(key("storm")))
    XCTAssertEqual(VMProfileError.repeatedKey(key("mem")).key, key("mem"))
    // After " -- " the words are the guest's, which may repeat anything.
    guard case .success(let profile) = parse("vm name=l kind=linux -- mem=1 mem=2 vm name=x")
    else { return XCTFail("a guest command line with repeated words was refused") }
    XCTAssertEqual(profile.guestCommandLine, key("mem=1 mem=2 vm name=x"))
  }

  func testMultibootKind() {
    guard case .success(let profile) = parse("vm name=kut kind=multiboot mem=64M -- -smp 1 x")
    else { return XCTFail("kind=multiboot was refused") }
    XCTAssertEqual(profile.kind, .multiboot)
    XCTAssertEqual(profile.guestCommandLine, key("-smp 1 x"))
    XCTAssertEqual(profile.unmapped, .ignore, "an OS probes: the architectural answer")
    XCTAssertNil(profile.validate(imageSize: 10), "the multiboot loader checks the image")
    assertError("vm name=a kind=elf", .invalidValue(key("kind")))
  }

  func testBadUnmappedAndStormValues() {
    assertError("vm name=a unmapped=drop", .invalidValue(key("unmapped")))
    assertError("vm name=a unmapped=STOP", .invalidValue(key("unmapped")))
    assertError("vm name=a storm=yes", .invalidValue(key("storm")))
    assertError("vm name=a storm=0", .invalidValue(key("storm")))
  }

  func testErrorsNameTheirKey() {
    XCTAssertEqual(VMProfileError.invalidValue(key("mem")).key, key("mem"))
    XCTAssertEqual(VMProfileError.unknownKey(key("x")).key, key("x"))
    XCTAssertNil(VMProfileError.missingName.key)
  }

  // MARK: validate(imageSize:)

  private func profile(
    memory: UInt64 = 1 << 20, load: UInt64 = 0x1000, segment: UInt16 = 0, offset: UInt16 = 0x1000
  )
    -> VMProfile
  {
    var profile = VMProfile(name: key("v"))
    profile.memorySize = memory
    profile.loadAddress = load
    profile.entrySegment = segment
    profile.entryOffset = offset
    return profile
  }

  func testValidImage() {
    XCTAssertNil(profile().validate(imageSize: 512))
    XCTAssertNil(profile().validate(imageSize: (1 << 20) - 0x1000), "fills memory exactly")
    XCTAssertNil(
      profile(segment: 0x0100, offset: 0x01FF).validate(imageSize: 0x200), "last byte of the image")
  }

  func testEmptyImage() {
    XCTAssertEqual(profile().validate(imageSize: 0), .emptyImage)
  }

  func testImageDoesNotFit() {
    XCTAssertEqual(profile().validate(imageSize: (1 << 20) - 0x1000 + 1), .imageDoesNotFit)
    XCTAssertEqual(
      profile(load: 1 << 20).validate(imageSize: 1), .imageDoesNotFit, "load address at the end")
    XCTAssertEqual(profile(load: 2 << 20).validate(imageSize: 1), .imageDoesNotFit)
    XCTAssertEqual(profile().validate(imageSize: UInt64.max), .imageDoesNotFit)
  }

  func testEntryOutsideImage() {
    XCTAssertEqual(
      profile(offset: 0x0FFF).validate(imageSize: 0x100), .entryOutsideImage, "below the image")
    XCTAssertEqual(
      profile(offset: 0x1100).validate(imageSize: 0x100), .entryOutsideImage, "one past the end")
    XCTAssertEqual(
      profile(segment: 0x0200, offset: 0).validate(imageSize: 0x100), .entryOutsideImage)
  }
}
