import XCTest

@testable import BootProtocols

final class MultibootGuestImageTests: XCTestCase {
  typealias F = MultibootImageFixture

  func result(_ bytes: [UInt8]) -> Result<MultibootGuestImage, MultibootGuestError> {
    bytes.withUnsafeBytes { buffer in
      do throws(MultibootGuestError) {
        return .success(try MultibootGuestImage(parsing: buffer))
      } catch {
        return .failure(error)
      }
    }
  }

  func parse(_ bytes: [UInt8]) throws -> MultibootGuestImage { try result(bytes).get() }

  func refusal(_ bytes: [UInt8]) -> MultibootGuestError? {
    if case .failure(let error) = result(bytes) { return error }
    return nil
  }

  // MARK: Good images

  func testV1ELF32() throws {
    let image = try parse(F.goodV1ELF32())
    XCTAssertEqual(image.header.version, .v1)
    XCTAssertEqual(image.header.offset, 0x100)
    XCTAssertEqual(
      image.segments,
      [MultibootSegment(fileBytes: 0x100..<0x300, address: 0x10_0000, memorySize: 0x1000)])
    XCTAssertEqual(image.entry, 0x10_0010)
  }

  func testV1ELF64HigherHalfEntryIsMovedToItsPhysicalAddress() throws {
    let bytes = F.elf(
      is64: true, entry: 0xFFFF_FFFF_8010_0020,
      segments: [
        .init(
          offset: 0x100, virtualAddress: 0xFFFF_FFFF_8010_0000, physicalAddress: 0x10_0000,
          fileSize: 0x100, memorySize: 0x2000),
        .init(
          offset: 0, virtualAddress: 0, physicalAddress: 0, fileSize: 0, memorySize: 0x10,
          type: 4),  // PT_NOTE: not loaded
      ],
      body: F.v1Header() + [UInt8](repeating: 0, count: 0x100 - 12))
    let image = try parse(bytes)
    XCTAssertEqual(image.segments.count, 1)
    XCTAssertEqual(image.segments[0].address, 0x10_0000)
    XCTAssertEqual(image.entry, 0x10_0020)
  }

  func testV1AddressFields() throws {
    let image = try parse(F.v1Kludge())
    XCTAssertEqual(image.header.addressFields?.loadAddress, 0x20_0000)
    XCTAssertEqual(
      image.segments,
      [MultibootSegment(fileBytes: 0..<0x100, address: 0x20_0000, memorySize: 0x3000)])
    XCTAssertEqual(image.entry, 0x20_0080)
  }

  func testV1AddressFieldsWithLoadEndAndNoBSS() throws {
    let image = try parse(F.v1Kludge(loadEnd: 0x20_0080, bssEnd: 0, entry: 0x20_0040))
    XCTAssertEqual(
      image.segments,
      [MultibootSegment(fileBytes: 0..<0x80, address: 0x20_0000, memorySize: 0x80)])
  }

  func testV2AddressAndEntryTags() throws {
    let image = try parse(F.v2Kludge())
    XCTAssertEqual(image.header.version, .v2)
    XCTAssertEqual(
      image.segments,
      [MultibootSegment(fileBytes: 0..<0x200, address: 0x20_0000, memorySize: 0x2000)])
    XCTAssertEqual(image.entry, 0x20_0100)
  }

  func testV2OptionalTagsAndGivenInformationAreAccepted() throws {
    let tags = [
      F.v2Tag(1, F.le32(1) + F.le32(6) + F.le32(14) + F.le32(15)),  // required, all given
      F.v2Tag(1, flags: 1, F.le32(8)),  // framebuffer info, optional
      F.v2Tag(5, flags: 1, F.le32(1024) + F.le32(768) + F.le32(32)),  // optional framebuffer
      F.v2Tag(4, F.le32(0)), F.v2Tag(6, []),
      F.v2Tag(10, flags: 1, [UInt8](repeating: 0, count: 16)),
    ]
    XCTAssertNoThrow(try parse(F.v2Kludge(extraTags: tags)))
  }

  func testV2ELFUsesTheELFEntryUnlessTagged() throws {
    let header = F.v2Header(tags: [])
    var body = [UInt8](repeating: 0, count: 0x8) + header
    body += [UInt8](repeating: 0, count: 0x100 - body.count)
    let segment = F.Segment(
      offset: 0x100, virtualAddress: 0x40_0000, physicalAddress: 0x40_0000, fileSize: 0x100,
      memorySize: 0x100)
    let image = try parse(F.elf(is64: false, entry: 0x40_0040, segments: [segment], body: body))
    XCTAssertEqual(image.header.version, .v2)
    XCTAssertEqual(image.entry, 0x40_0040)
  }

  // MARK: Refusals

  func testNoHeader() {
    XCTAssertEqual(refusal([UInt8](repeating: 0, count: 0x4000)), .noHeader)
    XCTAssertEqual(refusal([]), .noHeader)
    // A v1 header beyond the first 8 KiB is not looked for.
    let late = [UInt8](repeating: 0, count: 8192) + F.v1Header() + [UInt8](repeating: 0, count: 64)
    XCTAssertEqual(refusal(late), .noHeader)
    // Nor one off its 4-byte alignment.
    XCTAssertEqual(refusal([0, 0] + F.v1Header() + [UInt8](repeating: 0, count: 64)), .noHeader)
  }

  func testBadChecksum() {
    XCTAssertEqual(
      refusal(F.v1Header(checksumError: 1) + [UInt8](repeating: 0, count: 64)), .badChecksum)
    XCTAssertEqual(
      refusal(F.v2Header(tags: [], checksumError: 1) + [UInt8](repeating: 0, count: 64)),
      .badChecksum)
  }

  func testUnknownRequiredFlags() {
    XCTAssertEqual(
      refusal(F.v1Header(flags: 1 << 5) + [UInt8](repeating: 0, count: 64)),
      .unknownRequiredFlags(1 << 5))
  }

  func testV2Refusals() {
    XCTAssertEqual(
      refusal(F.v2Header(tags: [], architecture: 4) + [0, 0, 0, 0, 0, 0, 0, 0]),
      .unsupportedArchitecture(4))
    XCTAssertEqual(
      refusal(F.v2Kludge(extraTags: [F.v2Tag(5, F.le32(1024) + F.le32(768) + F.le32(32))])),
      .unsupportedRequiredTag(5), "a required framebuffer")
    XCTAssertEqual(
      refusal(F.v2Kludge(extraTags: [F.v2Tag(7, [])])), .unsupportedRequiredTag(7),
      "EFI boot services")
    XCTAssertEqual(
      refusal(F.v2Kludge(extraTags: [F.v2Tag(1, F.le32(6) + F.le32(8))])),
      .unsupportedInformationRequest(8))
    // A tag that runs past header_length.
    var overrun = F.v2Kludge()
    overrun[16 + 4] = 0xF0
    XCTAssertEqual(refusal(overrun), .malformedHeader)
    // header_length beyond the file.
    let short = Array(F.v2Header(tags: []).prefix(20))
    XCTAssertEqual(refusal(short + [0, 0, 0, 0]), .malformedHeader)
    XCTAssertEqual(
      refusal(F.v2Header(tags: []) + [UInt8](repeating: 0, count: 64)), .notELF,
      "no address tag and not ELF")
    let header = F.v2Header(tags: [
      F.v2Tag(2, F.le32(0x20_0000) + F.le32(0x20_0000) + F.le32(0) + F.le32(0))
    ])
    XCTAssertEqual(refusal(header + [UInt8](repeating: 0, count: 64)), .missingEntryAddress)
  }

  func testAddressFieldRefusals() {
    XCTAssertEqual(
      refusal(F.v1Kludge(headerAddress: 0x1F_0000)), .invalidAddressFields, "header before load")
    XCTAssertEqual(
      refusal(F.v1Kludge(headerAddress: 0x20_1000)), .invalidAddressFields,
      "load starts before the file")
    XCTAssertEqual(refusal(F.v1Kludge(loadEnd: 0x1F_0000)), .invalidAddressFields)
    XCTAssertEqual(refusal(F.v1Kludge(loadEnd: 0x20_1000)), .segmentOutsideFile)
    XCTAssertEqual(
      refusal(F.v1Kludge(loadEnd: 0x20_0080, bssEnd: 0x20_0040)), .invalidAddressFields)
    XCTAssertEqual(refusal(F.v1Kludge(entry: 0x30_0000)), .entryOutsideSegments)
  }

  func testELFRefusals() {
    var wrongMachine = F.goodV1ELF32()
    wrongMachine[18] = 62  // EM_X86_64 in an ELF32
    XCTAssertEqual(refusal(wrongMachine), .malformedELF)
    var bigEndian = F.goodV1ELF32()
    bigEndian[5] = 2
    XCTAssertEqual(refusal(bigEndian), .malformedELF)
    XCTAssertEqual(refusal(F.v1Header() + [UInt8](repeating: 0, count: 64)), .notELF)
    let noLoad = F.elf(
      is64: false, entry: 0x10_0000,
      segments: [
        .init(
          offset: 0, virtualAddress: 0, physicalAddress: 0, fileSize: 0, memorySize: 0x10, type: 4)
      ],
      body: F.v1Header())
    XCTAssertEqual(refusal(noLoad), .noLoadableSegments)
    let outsideFile = F.elf(
      is64: false, entry: 0x10_0000,
      segments: [
        .init(
          offset: 0x100, virtualAddress: 0x10_0000, physicalAddress: 0x10_0000, fileSize: 0x10_0000,
          memorySize: 0x10_0000)
      ],
      body: F.v1Header())
    XCTAssertEqual(refusal(outsideFile), .segmentOutsideFile)
    let fileBiggerThanMemory = F.elf(
      is64: false, entry: 0x10_0000,
      segments: [
        .init(
          offset: 0x100, virtualAddress: 0x10_0000, physicalAddress: 0x10_0000, fileSize: 12,
          memorySize: 4)
      ],
      body: F.v1Header())
    XCTAssertEqual(refusal(fileBiggerThanMemory), .malformedELF)
    let overlapping = F.elf(
      is64: false, entry: 0x10_0000,
      segments: [
        .init(
          offset: 0x100, virtualAddress: 0x10_0000, physicalAddress: 0x10_0000, fileSize: 12,
          memorySize: 0x2000),
        .init(
          offset: 0x100, virtualAddress: 0x10_1000, physicalAddress: 0x10_1000, fileSize: 12,
          memorySize: 0x10),
      ],
      body: F.v1Header())
    XCTAssertEqual(refusal(overlapping), .segmentsOverlap)
    var truncated = F.goodV1ELF32()
    truncated[44] = 0xFF  // e_phnum 255: program headers past the file
    XCTAssertEqual(refusal(truncated), .malformedELF)
  }

  func testEveryPrefixOfAGoodImageIsRefusedOrParsedWithoutTrapping() {
    for image in [F.goodV1ELF32(), F.v1Kludge(), F.v2Kludge()] {
      for length in 0..<image.count { _ = refusal(Array(image.prefix(length))) }
    }
  }
}
