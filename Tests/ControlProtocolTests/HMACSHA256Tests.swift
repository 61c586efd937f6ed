import ControlProtocol
import XCTest

final class HMACSHA256Tests: XCTestCase {
  /// RFC 4231 §4.2-4.8, test cases 1 to 7 (HMAC-SHA-256 column).
  func testRFC4231() {
    let cases: [(key: [UInt8], data: [UInt8], tag: String)] = [
      (
        [UInt8](repeating: 0x0b, count: 20), bytes("Hi There"),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
      ),
      (
        bytes("Jefe"), bytes("what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
      ),
      (
        [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
      ),
      (
        Array(1...25), [UInt8](repeating: 0xcd, count: 50),
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
      ),
      // Case 5: the RFC gives the tag truncated to 128 bits.
      (
        [UInt8](repeating: 0x0c, count: 20), bytes("Test With Truncation"),
        "a3b6167473100ee06e0c796c2955552b"
      ),
      (
        [UInt8](repeating: 0xaa, count: 131),
        bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
      ),
      (
        [UInt8](repeating: 0xaa, count: 131),
        bytes(
          "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."
        ),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
      ),
    ]
    for (number, testCase) in cases.enumerated() {
      let tag = hex(HMACSHA256(key: testCase.key).authenticationCode(for: testCase.data))
      XCTAssertTrue(tag.hasPrefix(testCase.tag), "RFC 4231 test case \(number + 1): \(tag)")
    }
  }

  /// Random keys (shorter and longer than a block) and messages, against Python's hmac.
  func testAgainstAReferenceImplementation() throws {
    var random = SeededGenerator(seed: 2104)
    var keys: [[UInt8]] = []
    var messages: [[UInt8]] = []
    for _ in 0..<400 {
      keys.append(random.bytes(Int.random(in: 0...200, using: &random)))
      messages.append(random.bytes(Int.random(in: 0...3000, using: &random)))
    }
    let tags = try ReferenceDigests.compute(messages: messages, keys: keys)
    for (index, expected) in tags.enumerated() {
      XCTAssertEqual(
        HMACSHA256(key: keys[index]).authenticationCode(for: messages[index]), expected,
        "key \(keys[index].count) bytes, message \(messages[index].count) bytes")
    }
  }

  func testValidityCheckRefusesAnyFlippedBit() {
    let hmac = HMACSHA256(key: clusterKey)
    var message = bytes("a request")
    message += hmac.authenticationCode(for: message)
    XCTAssertTrue(hmac.isValid(message, from: 0, to: 9, tagAt: 9))
    for bit in 0..<(message.count * 8) {
      var corrupted = message
      corrupted[bit / 8] ^= 1 << UInt8(bit % 8)
      XCTAssertFalse(hmac.isValid(corrupted, from: 0, to: 9, tagAt: 9), "bit \(bit)")
    }
    XCTAssertFalse(hmac.isValid(message, from: 0, to: 9, tagAt: 10), "tag past the end")
  }

  func testConstantTimeEquality() {
    XCTAssertTrue(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
    XCTAssertFalse(ConstantTime.equals([1, 2, 3], [1, 2, 4]))
    XCTAssertFalse(ConstantTime.equals([1, 2, 3], [1, 2]))
    XCTAssertFalse(ConstantTime.equals([1, 2], [0, 1, 2], at: 2))
  }
}
