import ControlProtocol
import XCTest

final class SHA256HasherTests: XCTestCase {
  /// FIPS 180-4 examples (NIST CSRC "Cryptographic Standards and Guidelines: Examples with
  /// Intermediate Values", SHA-256) and the long-message vector of FIPS 180-2 Appendix B.3.
  func testNISTVectors() {
    XCTAssertEqual(
      hex(SHA256Hasher.hash(bytes("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    XCTAssertEqual(
      hex(SHA256Hasher.hash([])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    XCTAssertEqual(
      hex(SHA256Hasher.hash(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    XCTAssertEqual(
      hex(
        SHA256Hasher.hash(
          bytes(
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
          ))),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    var hasher = SHA256Hasher()
    let thousand = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
    for _ in 0..<1000 { hasher.update(thousand) }
    XCTAssertEqual(
      hex(hasher.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  /// Every length around the padding boundaries (55, 56, 63, 64 bytes...) and many random
  /// lengths, one call and split at random points, against Python's hashlib.
  func testAgainstAReferenceImplementation() throws {
    var random = SeededGenerator(seed: 180_4)
    var lengths = Array(0...300)
    for _ in 0..<200 { lengths.append(Int.random(in: 0...8_000, using: &random)) }
    let messages = lengths.map { random.bytes($0) }
    let digests = try ReferenceDigests.compute(messages: messages)
    for (message, expected) in zip(messages, digests) {
      let length = message.count
      XCTAssertEqual(SHA256Hasher.hash(message), expected, "length \(length)")
      var hasher = SHA256Hasher()
      var start = 0
      while start < length {
        let end = min(length, start + Int.random(in: 0...130, using: &random))
        hasher.update(message, from: start, to: end)
        start = end
      }
      XCTAssertEqual(hasher.finalize(), expected, "length \(length), streamed")
    }
  }
}
