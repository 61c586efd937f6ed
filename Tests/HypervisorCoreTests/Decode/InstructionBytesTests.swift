import HypervisorCore
import XCTest

final class InstructionBytesTests: XCTestCase {
  func testKeepsBytesInOrderAcrossBothWords() {
    let source: [UInt8] = Array(0..<15).map { UInt8($0) &* 17 &+ 1 }
    let bytes = InstructionBytes(source)
    XCTAssertEqual(bytes.count, 15)
    for index in 0..<15 {
      XCTAssertEqual(bytes[index], source[index], "byte \(index)")
    }
  }

  func testDropsBytesPastTheFifteenByteLimit() {
    let bytes = InstructionBytes([UInt8](repeating: 0x90, count: 20))
    XCTAssertEqual(bytes.count, InstructionBytes.maximumCount)
  }

  func testAppendRefusesASixteenthByte() {
    var bytes = InstructionBytes([UInt8](repeating: 0x66, count: 15))
    XCTAssertFalse(bytes.append(0x90))
    XCTAssertEqual(bytes.count, 15)
    XCTAssertEqual(bytes[14], 0x66)
  }

  func testReadsFromARawBuffer() {
    let source: [UInt8] = [0x0F, 0x01, 0xD9]
    let bytes = source.withUnsafeBytes { InstructionBytes($0) }
    XCTAssertEqual(bytes, InstructionBytes(source))
    XCTAssertEqual(bytes.count, 3)
    XCTAssertEqual(bytes[2], 0xD9)
  }

  func testEmptyHasNoBytes() {
    XCTAssertEqual(InstructionBytes().count, 0)
    XCTAssertEqual(InstructionBytes([]), InstructionBytes())
  }
}
