import ControlProtocol
import XCTest

/// The transfer's SHA-256 computed as the chunks come, a bounded share per request: in-order
/// chunks leave `transfer end` only the finalization; a sparse image's trailing zeros are
/// hashed over several `transfer end`s answered "still hashing"; a chunk of data that comes
/// after zeros were hashed in its place starts the hashing over, so the digest stays exact.
final class IncrementalDigestTests: XCTestCase {
  typealias Assembler = TransferAssembler<ArrayTransferStorage>
  var random = SeededGenerator(seed: 8821)

  private func limits(budget: Int) -> Assembler.Limits {
    var limits = Assembler.Limits()
    limits.hashBytesPerRequest = budget
    return limits
  }

  private func begin(_ assembler: inout Assembler, _ image: [UInt8], sparse: Bool) throws
    -> UInt32
  {
    try assembler.begin(
      TransferDescription(
        name: Array("disk".utf8), size: UInt64(image.count), digest: SHA256Hasher.hash(image),
        sparse: sparse), now: 0
    ).transferID
  }

  private func chunk(_ image: [UInt8], _ number: Int, id: UInt32) -> TransferChunk {
    let offset = number * 1024
    return TransferChunk(
      transferID: id, offset: UInt64(offset),
      bytes: Array(image[offset..<min(image.count, offset + 1024)]))
  }

  /// `transfer end` until it is not "still hashing": the answers, in order.
  private func end(_ assembler: inout Assembler, _ id: UInt32) -> [Response] {
    var answers: [Response] = []
    for _ in 0..<10_000 {
      guard let (answer, _) = assembler.handle(.transferEnd(transferID: id), now: 5) else {
        break
      }
      answers.append(answer)
      guard case .failure(let failure) = answer, failure.code == .busy else { break }
    }
    return answers
  }

  func testInOrderChunksAreHashedAsTheyComeAndTheEndOnlyFinalizes() throws {
    let image = random.bytes(40 * 1024 + 100)
    var assembler = Assembler(limits: limits(budget: 2048))
    let id = try begin(&assembler, image, sparse: false)
    for number in 0..<41 {
      _ = try assembler.accept(chunk(image, number, id: id), now: 1)
      XCTAssertEqual(
        assembler.hashing(of: id)?.hashedBytes, UInt64(min(image.count, (number + 1) * 1024)))
    }
    let answers = end(&assembler, id)
    XCTAssertEqual(answers.count, 1, "nothing left to hash: one answer")
    guard case .transferCommitted(let receipt) = answers.last else {
      return XCTFail("not committed: \(answers)")
    }
    XCTAssertEqual(receipt.digest, SHA256Hasher.hash(image))
  }

  func testAChunkOutOfOrderWaitsForTheGapThenTheBacklogIsHashedWithinTheBudget() throws {
    let image = random.bytes(16 * 1024)
    var assembler = Assembler(limits: limits(budget: 4096))
    let id = try begin(&assembler, image, sparse: false)
    for number in 1..<16 { _ = try assembler.accept(chunk(image, number, id: id), now: 1) }
    XCTAssertEqual(assembler.hashing(of: id)?.hashedBytes, 0, "chunk 0 is missing")
    _ = try assembler.accept(chunk(image, 0, id: id), now: 1)
    XCTAssertEqual(assembler.hashing(of: id)?.hashedBytes, 4096, "one request's budget")
    let answers = end(&assembler, id)
    XCTAssertEqual(answers.count, 3, "12 KiB left at 4 KiB a request: 2 busy, then done")
    guard case .transferCommitted(let receipt) = answers.last else {
      return XCTFail("not committed: \(answers)")
    }
    XCTAssertEqual(receipt.digest, SHA256Hasher.hash(image))
  }

  func testASparseImagesTrailingZerosAreHashedOverSeveralEnds() throws {
    var image = [UInt8](repeating: 0, count: 64 * 1024)
    image[10] = 1
    var assembler = Assembler(limits: limits(budget: 8192))
    let id = try begin(&assembler, image, sparse: true)
    _ = try assembler.accept(chunk(image, 0, id: id), now: 1)
    XCTAssertEqual(assembler.hashing(of: id)?.hashedBytes, 1024, "the zeros after: not yet known")
    let answers = end(&assembler, id)
    XCTAssertEqual(answers.count, 8, "63 KiB at 8 KiB a request")
    for answer in answers.dropLast() {
      guard case .failure(let failure) = answer else { return XCTFail("\(answer)") }
      XCTAssertEqual(failure.code, .busy)
      XCTAssertTrue(failure.detail.starts(with: Array("still hashing".utf8)))
    }
    guard case .transferCommitted(let receipt) = answers.last else {
      return XCTFail("not committed: \(answers)")
    }
    XCTAssertEqual(receipt.digest, SHA256Hasher.hash(image))
    XCTAssertEqual(assembler.openTransfers, 0)
  }

  func testDataThatComesAfterItsZerosWereHashedStartsTheHashOver() throws {
    var image = [UInt8](repeating: 0, count: 8 * 1024)
    image[0] = 1
    image[3 * 1024] = 3
    image[7 * 1024] = 7
    var assembler = Assembler(limits: limits(budget: 1 << 20))
    let id = try begin(&assembler, image, sparse: true)
    _ = try assembler.accept(chunk(image, 0, id: id), now: 1)
    _ = try assembler.accept(chunk(image, 7, id: id), now: 1)
    XCTAssertEqual(assembler.hashing(of: id)?.hashedBytes, 8 * 1024, "1-6 taken for zeros")
    // Chunk 3 was late (lost and sent again), not zeros.
    _ = try assembler.accept(chunk(image, 3, id: id), now: 1)
    XCTAssertEqual(assembler.hashing(of: id)?.restarts, 1)
    // A chunk of zeros where zeros were hashed changes nothing.
    _ = try assembler.accept(chunk(image, 5, id: id), now: 1)
    XCTAssertEqual(assembler.hashing(of: id)?.restarts, 1)
    guard case .transferCommitted(let receipt) = end(&assembler, id).last else {
      return XCTFail("not committed")
    }
    XCTAssertEqual(receipt.digest, SHA256Hasher.hash(image))
  }

  func testShuffledSparseTransfersWithDuplicatesAlwaysGetTheRightVerdict() throws {
    for round in 0..<40 {
      var image = [UInt8](repeating: 0, count: 1024 * Int.random(in: 1...48, using: &random) - 7)
      for _ in 0..<Int.random(in: 0...12, using: &random) {
        image[Int.random(in: 0..<image.count, using: &random)] = UInt8.random(
          in: 1...255, using: &random)
      }
      let chunks = (image.count + 1023) / 1024
      var assembler = Assembler(
        limits: limits(budget: 1024 * Int.random(in: 1...9, using: &random)))
      let id = try begin(&assembler, image, sparse: true)
      var numbers = (0..<chunks).filter { number in
        chunk(image, number, id: id).bytes.contains { $0 != 0 }
      }
      // Leave one chunk of data out in odd rounds: the digest must catch it.
      let dropped = round % 2 == 1 && !numbers.isEmpty
      if dropped { numbers.remove(at: Int.random(in: 0..<numbers.count, using: &random)) }
      numbers += numbers.prefix(3)
      numbers.shuffle(using: &random)
      for number in numbers { _ = try assembler.accept(chunk(image, number, id: id), now: 1) }
      let last = end(&assembler, id).last
      if dropped {
        guard case .failure(let failure) = last else { return XCTFail("round \(round): \(last!)") }
        XCTAssertEqual(failure.code, .digestMismatch, "round \(round)")
      } else {
        guard case .transferCommitted(let receipt) = last else {
          return XCTFail("round \(round): \(String(describing: last))")
        }
        XCTAssertEqual(receipt.digest, SHA256Hasher.hash(image), "round \(round)")
      }
    }
  }

  func testADigestOverABufferInSlicesIsTheWholeOnesDigest() {
    let image = random.bytes(100_000)
    var frontier = ImageDigestFrontier(size: image.count)
    var steps = 0
    image.withUnsafeBytes { buffer in
      while !frontier.advance(over: buffer, budget: 30_000) { steps += 1 }
    }
    XCTAssertEqual(steps, 3, "30 000 bytes a step: four steps, the last completes")
    XCTAssertEqual(frontier.finalize(), SHA256Hasher.hash(image))
  }
}
