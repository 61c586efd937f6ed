import XCTest

@testable import BootProtocols

/// `\_S5` recognition in raw AML (ACPI 6.4 §7.4.2, §20.2).
final class AMLSleepStateTests: XCTestCase {
  typealias F = ACPIFixture

  private func findS5(_ aml: [UInt8]) -> (sleepTypeA: UInt8, sleepTypeB: UInt8)? {
    aml.withUnsafeBytes { ACPITables.findS5(aml: $0) }
  }

  private func search(_ aml: [UInt8]) -> AMLSleepState.Result {
    aml.withUnsafeBytes { AMLSleepState.search(TableBytes($0)) }
  }

  private func assertS5(
    _ aml: [UInt8], _ sleepTypeA: UInt8, _ sleepTypeB: UInt8,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    guard let found = findS5(aml) else {
      return XCTFail("no _S5 found", file: file, line: line)
    }
    XCTAssertEqual(found.sleepTypeA, sleepTypeA, file: file, line: line)
    XCTAssertEqual(found.sleepTypeB, sleepTypeB, file: file, line: line)
  }

  func testQEMUEncodingWithOneBytePkgLength() {
    // Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero }) as QEMU emits it.
    let aml: [UInt8] = [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00]
    XCTAssertEqual(aml, F.s5(elements: [F.zero, F.zero, F.zero, F.zero]))
    assertS5(aml, 0, 0)
  }

  func testRootedNameWithByteAndOneOperands() {
    assertS5(F.preamble + F.s5(rooted: true, elements: [F.byte(7), F.one]) + F.postamble, 7, 1)
  }

  func testWordPrefixOperands() {
    assertS5(F.s5(elements: [F.word(5), F.word(6), F.zero, F.zero]), 5, 6)
  }

  func testTwoBytePkgLength() {
    // 40 elements of two bytes each push the package past 63 bytes.
    let elements = [F.byte(3), F.byte(4)] + Array(repeating: F.byte(0), count: 38)
    let aml = F.s5(elements: elements)
    XCTAssertEqual(aml[6] >> 6, 1, "PkgLength uses one following byte")
    XCTAssertEqual(Int(aml[6] & 0x0F) | Int(aml[7]) << 4, aml.count - 6)
    assertS5(aml, 3, 4)
  }

  func testTwoBytePkgLengthForShortPackage() {
    // A non-minimal but legal encoding: length 6 spread over two bytes.
    let aml: [UInt8] = [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x46, 0x00, 0x02, 0x0A, 0x05, 0x00]
    assertS5(aml, 5, 0)
  }

  func testPackageLengthDecoding() {
    let cases: [([UInt8], Int, Int)] = [
      ([0x3F], 0x3F, 1),
      ([0x4A, 0x12], 0x12A, 2),
      ([0x85, 0x34, 0x12], 0x12345, 3),
      ([0xC1, 0x00, 0x00, 0x01], 0x10_0001, 4),
    ]
    for (bytes, value, size) in cases {
      let decoded = bytes.withUnsafeBytes { AMLSleepState.packageLength(TableBytes($0), at: 0) }
      XCTAssertEqual(decoded?.value, value, "\(bytes)")
      XCTAssertEqual(decoded?.encodedSize, size, "\(bytes)")
    }
    // Bits 5:4 must be zero when bytes follow; a following byte missing is rejected too.
    XCTAssertNil(
      ([0x70, 0x01] as [UInt8]).withUnsafeBytes {
        AMLSleepState.packageLength(TableBytes($0), at: 0)
      })
    XCTAssertNil(
      ([0x41] as [UInt8]).withUnsafeBytes { AMLSleepState.packageLength(TableBytes($0), at: 0) })
  }

  func testOneElementPackagePacksBothValues() {
    assertS5(F.s5(elements: [F.word(0x0705)]), 5, 7)
  }

  func testMentionWithoutDeclarationIsIgnored() {
    // Store (_S5_, Local0) and a bare name: no NameOp in front.
    XCTAssertNil(findS5(F.preamble + F.postamble))
    XCTAssertEqual(search(F.preamble + F.postamble), .missing)
  }

  func testMalformedDeclarationFollowedByGoodOne() {
    // A Name(_S5_, ...) that is not a package, e.g. inside an unrelated buffer, then the real one.
    let decoy: [UInt8] = [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x0A, 0x05]
    assertS5(decoy + F.s5(elements: [F.byte(2), F.byte(2)]), 2, 2)
    XCTAssertEqual(search(decoy), .malformed)
  }

  func testTruncatedStreamsDoNotCrash() {
    let full = F.s5(rooted: true, elements: [F.byte(5), F.byte(5), F.zero, F.zero])
    for cut in 0..<full.count {
      XCTAssertNil(findS5(Array(full.prefix(cut))), "cut at \(cut)")
    }
    assertS5(full, 5, 5)
  }

  func testPkgLengthPastEndOfStream() {
    var aml = F.s5(elements: [F.byte(5), F.byte(5)])
    aml[6] = 0x3F
    XCTAssertNil(findS5(aml))
  }

  func testElementsBeyondPackageEnd() {
    // NumElements says 2 but PkgLength only covers the first.
    let aml: [UInt8] = [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x04, 0x02, 0x0A, 0x05, 0x0A, 0x05]
    XCTAssertNil(findS5(aml))
  }

  func testEmptyAndZeroElementPackages() {
    XCTAssertNil(findS5([]))
    XCTAssertNil(findS5(F.s5(count: 0, elements: [])))
  }

  func testOversizedValuesAreRejected() {
    XCTAssertNil(findS5(F.s5(elements: [F.word(0x105), F.zero])))
  }

  /// A real DSDT from this machine's firmware, when readable (root only). It must scan
  /// without trapping; firmware that declares `_S5` must yield a 3-bit SLP_TYP.
  func testRealDSDTIfAvailable() throws {
    let path = "/sys/firmware/acpi/tables/DSDT"
    guard let table = FileManager.default.contents(atPath: path) else {
      throw XCTSkip("\(path) is not readable")
    }
    let bytes = [UInt8](table)
    XCTAssertGreaterThan(bytes.count, 36)
    let body = Array(bytes.dropFirst(36))
    let result = search(body)
    if case .found(let sleepTypeA, let sleepTypeB) = result {
      XCTAssertLessThan(sleepTypeA, 8)
      XCTAssertLessThan(sleepTypeB, 8)
    }
    let hasDeclaration = body.indices.contains { index in
      index + 5 <= body.count && body[index] == 0x08
        && Array(body[index + 1..<index + 5]) == Array("_S5_".utf8)
    }
    if !hasDeclaration { XCTAssertEqual(result, .missing) }
  }
}
