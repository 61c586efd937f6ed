import XCTest

@testable import BootProtocols

/// Each malformed block must be rejected with the precise error.
final class Multiboot2MalformedTests: XCTestCase {
  private func assertRejects(
    _ fixture: Multiboot2Fixture, at address: UInt64 = 0x10_0000, with expected: Multiboot2Error,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    assertRejects(fixture.build(), at: address, with: expected, file: file, line: line)
  }

  private func assertRejects(
    _ block: [UInt8], at address: UInt64 = 0x10_0000, with expected: Multiboot2Error,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    do {
      _ = try Multiboot2Fixture.parse(block, at: address)
      XCTFail("parse succeeded, expected \(expected)", file: file, line: line)
    } catch {
      XCTAssertEqual(error, expected, file: file, line: line)
    }
  }

  /// A valid block up to (not including) the end tag.
  private func withMap() -> Multiboot2Fixture {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap(Multiboot2Fixture.simpleMap)
    return fixture
  }

  func testTruncatedHeader() {
    assertRejects([0x10, 0, 0, 0, 0, 0, 0], with: .truncatedHeader)
  }

  func testTotalSizeLargerThanBuffer() {
    var fixture = withMap()
    fixture.appendEnd()
    let actual = UInt32(fixture.build().count)
    fixture.declaredTotalSize = actual + 8
    assertRejects(fixture, with: .totalSizeMismatch(declared: actual + 8, available: actual))
  }

  func testTotalSizeSmallerThanHeader() {
    var fixture = Multiboot2Fixture()
    fixture.declaredTotalSize = 4
    assertRejects(fixture, with: .totalSizeMismatch(declared: 4, available: 8))
  }

  func testMisalignedBlock() {
    var fixture = withMap()
    fixture.appendEnd()
    assertRejects(fixture, at: 0x10_0004, with: .misalignedTag(offset: 8))
  }

  func testTagOverrunningBlock() {
    var fixture = withMap()
    let offset = UInt32(fixture.bytes.count)
    fixture.appendTag(type: 1, body: [0x41, 0], sizeOverride: 64)
    fixture.appendEnd()
    assertRejects(fixture, with: .tagOverrunsBlock(type: 1, offset: offset, size: 64))
  }

  func testTagSmallerThanItsHeader() {
    var fixture = withMap()
    let offset = UInt32(fixture.bytes.count)
    fixture.appendTag(type: 9, body: [], sizeOverride: 4)
    fixture.appendEnd()
    assertRejects(fixture, with: .tagTooShort(type: 9, offset: offset, size: 4))
  }

  func testMissingEndTag() {
    assertRejects(withMap(), with: .missingEndTag)
  }

  func testMissingMemoryMap() {
    var fixture = Multiboot2Fixture()
    fixture.appendString(type: 1, "quiet")
    fixture.appendEnd()
    assertRejects(fixture, with: .missingMemoryMap)
  }

  /// Found by Fuzz/Targets/multiboot2.swift: a memory map tag of just its 16-byte header
  /// parsed as an empty map, leaving the kernel no RAM it knows of.
  func testEmptyMemoryMap() {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap([])
    fixture.appendEnd()
    assertRejects(fixture, with: .missingMemoryMap)
  }

  func testEntrySizeBelowMinimum() {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap([.init(base: 0, length: 0x1000, type: 1)], entrySize: 16)
    fixture.appendEnd()
    assertRejects(fixture, with: .memoryMapEntrySizeInvalid(16))
  }

  func testEntrySizeNotMultipleOfEight() {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap([.init(base: 0, length: 0x1000, type: 1)], entrySize: 28)
    fixture.appendEnd()
    assertRejects(fixture, with: .memoryMapEntrySizeInvalid(28))
  }

  func testTruncatedMemoryMap() {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap([.init(base: 0, length: 0x1000, type: 1)], extraBytes: 8)
    fixture.appendEnd()
    assertRejects(fixture, with: .memoryMapTruncated(declaredBytes: 32, entrySize: 24))
  }

  func testOverlapOfDifferentKinds() {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap([
      .init(base: 0x8000, length: 0x1000, type: 2),
      .init(base: 0x0, length: 0xA000, type: 1),
    ])
    fixture.appendEnd()
    assertRejects(
      fixture,
      with: .memoryMapOverlap(
        first: PhysicalRange(start: 0, end: 0xA000),
        second: PhysicalRange(start: 0x8000, end: 0x9000)))
  }

  func testZeroLengthEntry() {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap([
      .init(base: 0, length: 0x1000, type: 1),
      .init(base: 0x2000, length: 0, type: 1),
    ])
    fixture.appendEnd()
    assertRejects(fixture, with: .memoryMapEmptyEntry(index: 1))
  }

  func testWrappingEntry() {
    var fixture = Multiboot2Fixture()
    fixture.appendMemoryMap([.init(base: UInt64.max - 0xFFF, length: 0x2000, type: 2)])
    fixture.appendEnd()
    assertRejects(fixture, with: .memoryMapEmptyEntry(index: 0))
  }

  func testModuleEndingBeforeItStarts() {
    var fixture = withMap()
    fixture.appendModule(start: 0x20_0000, end: 0x20_1000, commandLine: "ok")
    fixture.appendModule(start: 0x30_0000, end: 0x2F_F000, commandLine: "bad")
    fixture.appendEnd()
    assertRejects(fixture, with: .moduleInvalid(index: 1))
  }

  func testUnterminatedCommandLine() {
    var fixture = withMap()
    fixture.appendString(type: 1, "root=/dev/sda", terminated: false)
    fixture.appendEnd()
    assertRejects(fixture, with: .stringNotTerminated(tagType: 1))
  }

  func testUnterminatedModuleString() {
    var fixture = withMap()
    fixture.appendTag(
      type: 3, body: Multiboot2Fixture.le32(0x1000) + Multiboot2Fixture.le32(0x2000) + [0x61])
    fixture.appendEnd()
    assertRejects(fixture, with: .stringNotTerminated(tagType: 3))
  }

  func testRSDPTagTooShort() {
    var fixture = withMap()
    let offset = UInt32((fixture.bytes.count + 7) & ~7)
    fixture.appendTag(type: 15, body: [UInt8](repeating: 0, count: 20))
    fixture.appendEnd()
    assertRejects(fixture, with: .tagTooShort(type: 15, offset: offset, size: 28))
  }
}
