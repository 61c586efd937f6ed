import ControlProtocol
import XCTest

final class TransferAssemblerTests: XCTestCase {
  typealias Assembler = TransferAssembler<CountingStorage>

  var random = SeededGenerator(seed: 4303)

  private func image(_ size: Int) -> (bytes: [UInt8], description: TransferDescription) {
    let content = random.bytes(size)
    let name = bytes("image-\(size)")
    return (
      content,
      TransferDescription(name: name, size: UInt64(size), digest: SHA256Hasher.hash(content))
    )
  }

  private func chunks(of bytes: [UInt8], id: UInt32, size: Int = 1024) -> [TransferChunk] {
    stride(from: 0, to: bytes.count, by: size).map {
      TransferChunk(
        transferID: id, offset: UInt64($0), bytes: Array(bytes[$0..<min(bytes.count, $0 + size)]))
    }
  }

  override func setUp() { CountingStorage.live = 0 }

  func testChunksInAnyOrderWithDuplicates() throws {
    var assembler = Assembler()
    let (bytes, description) = image(10 * 1024 + 17)
    let ticket = try assembler.begin(description, now: 0)
    XCTAssertEqual(ticket.chunkSize, 1024)
    var parts = chunks(of: bytes, id: ticket.transferID)
    parts += parts.prefix(3)
    parts.shuffle(using: &random)
    var progress = TransferProgress(receivedBytes: 0, size: 0)
    for part in parts { progress = try assembler.accept(part, now: 1) }
    XCTAssertEqual(
      progress, TransferProgress(receivedBytes: UInt64(bytes.count), size: UInt64(bytes.count)))
    let completed = try assembler.commit(transferID: ticket.transferID)
    XCTAssertEqual(completed.storage.bytes, bytes)
    XCTAssertEqual(completed.digest, description.digest)
    XCTAssertEqual(assembler.openTransfers, 0)
  }

  func testAGapIsRefusedAtCommitAndFreesTheBuffer() throws {
    var assembler = Assembler()
    let (bytes, description) = image(5000)
    let id = try assembler.begin(description, now: 0).transferID
    XCTAssertEqual(CountingStorage.live, 1)
    for part in chunks(of: bytes, id: id) where part.offset != 2048 {
      _ = try assembler.accept(part, now: 0)
    }
    XCTAssertThrowsError(try assembler.commit(transferID: id)) {
      XCTAssertEqual(($0 as? ControlFailure)?.code, .transferIncomplete)
    }
    XCTAssertEqual(CountingStorage.live, 0, "released")
    XCTAssertEqual(assembler.openTransfers, 0)
    XCTAssertThrowsError(try assembler.commit(transferID: id)) {
      XCTAssertEqual(($0 as? ControlFailure)?.code, .unknownTransfer)
    }
  }

  func testACorruptDigestIsRefusedAndFreesTheBuffer() throws {
    var assembler = Assembler()
    let (content, announced) = image(3000)
    var wrongDigest = announced
    wrongDigest.digest[0] ^= 1
    let id = try assembler.begin(wrongDigest, now: 0).transferID
    for part in chunks(of: content, id: id) { _ = try assembler.accept(part, now: 0) }
    XCTAssertThrowsError(try assembler.commit(transferID: id)) {
      XCTAssertEqual(($0 as? ControlFailure)?.code, .digestMismatch)
    }
    XCTAssertEqual(CountingStorage.live, 0)
    // The right digest, one corrupted byte in a chunk.
    let again = try assembler.begin(announced, now: 0).transferID
    var parts = chunks(of: content, id: again)
    parts[1].bytes[5] ^= 0x10
    for part in parts { _ = try assembler.accept(part, now: 0) }
    XCTAssertEqual(
      assembler.handle(.transferEnd(transferID: again), now: 0)?.0,
      .failure(ControlFailure(.digestMismatch)))
    XCTAssertEqual(CountingStorage.live, 0)
  }

  func testACutOffTransferExpiresWithAClearError() throws {
    var assembler = Assembler()
    let (bytes, description) = image(4096)
    let id = try assembler.begin(description, now: 1000)
    let parts = chunks(of: bytes, id: id.transferID)
    _ = try assembler.accept(parts[0], now: 20_000)
    XCTAssertEqual(assembler.expire(now: 49_999), [], "not idle long enough")
    XCTAssertEqual(assembler.expire(now: 50_000), [id.transferID])
    XCTAssertEqual(CountingStorage.live, 0)
    XCTAssertThrowsError(try assembler.accept(parts[1], now: 50_001)) {
      XCTAssertEqual(($0 as? ControlFailure)?.code, .transferExpired)
    }
    XCTAssertEqual(
      assembler.handle(.transferEnd(transferID: id.transferID), now: 50_002)?.0,
      .failure(ControlFailure(.transferExpired)))
  }

  func testBoundsOnChunks() throws {
    var assembler = Assembler()
    let (bytes, description) = image(2500)
    let id = try assembler.begin(description, now: 0).transferID
    let refused: [TransferChunk] = [
      TransferChunk(transferID: id, offset: 2048, bytes: Array(bytes[2048..<2500]) + [0]),  // past the end
      TransferChunk(transferID: id, offset: 100, bytes: Array(bytes[100..<1124])),  // not aligned
      TransferChunk(transferID: id, offset: 1024, bytes: Array(bytes[1024..<2000])),  // short, not the tail
      TransferChunk(transferID: id, offset: 3072, bytes: []),  // outside
      TransferChunk(
        transferID: id, offset: UInt64.max - 1023, bytes: [UInt8](repeating: 0, count: 1024)),
    ]
    for chunk in refused {
      XCTAssertThrowsError(try assembler.accept(chunk, now: 0)) {
        XCTAssertEqual(($0 as? ControlFailure)?.code, .chunkOutOfBounds, "\(chunk.offset)")
      }
    }
    XCTAssertEqual(
      try assembler.accept(chunks(of: bytes, id: id)[2], now: 0).receivedBytes, 452, "the tail")
    XCTAssertThrowsError(
      try assembler.accept(TransferChunk(transferID: id + 1, offset: 0, bytes: []), now: 0)
    ) {
      XCTAssertEqual(($0 as? ControlFailure)?.code, .unknownTransfer)
    }
  }

  func testCapsOnSizeAndConcurrentTransfers() throws {
    var limits = Assembler.Limits()
    limits.maximumSize = 1 << 20
    limits.maximumTransfers = 2
    var assembler = Assembler(limits: limits)
    let digest = SHA256Hasher.hash([])
    XCTAssertThrowsError(
      try assembler.begin(
        TransferDescription(name: bytes("big"), size: (1 << 20) + 1, digest: digest), now: 0)
    ) { XCTAssertEqual(($0 as? ControlFailure)?.code, .transferTooLarge) }
    XCTAssertThrowsError(
      try assembler.begin(
        TransferDescription(name: bytes("huge"), size: UInt64.max, digest: digest), now: 0)
    ) { XCTAssertEqual(($0 as? ControlFailure)?.code, .transferTooLarge) }
    XCTAssertEqual(CountingStorage.live, 0, "nothing allocated for a refused transfer")
    let a = try assembler.begin(
      TransferDescription(name: bytes("a"), size: 10, digest: digest), now: 0)
    XCTAssertThrowsError(
      try assembler.begin(TransferDescription(name: bytes("a"), size: 10, digest: digest), now: 0)
    ) { XCTAssertEqual(($0 as? ControlFailure)?.code, .nameInUse) }
    _ = try assembler.begin(TransferDescription(name: bytes("b"), size: 10, digest: digest), now: 0)
    XCTAssertThrowsError(
      try assembler.begin(TransferDescription(name: bytes("c"), size: 10, digest: digest), now: 0)
    ) { XCTAssertEqual(($0 as? ControlFailure)?.code, .tooManyTransfers) }
    XCTAssertEqual(assembler.bufferedBytes, 20)
    XCTAssertEqual(assembler.handle(.transferAbort(transferID: a.transferID), now: 0)?.0, .done)
    XCTAssertEqual(CountingStorage.live, 1)
    XCTAssertNotNil(
      try? assembler.begin(TransferDescription(name: bytes("c"), size: 10, digest: digest), now: 0))
  }

  func testAnEmptyImage() throws {
    var assembler = Assembler()
    let (_, description) = image(0)
    let id = try assembler.begin(description, now: 0).transferID
    XCTAssertEqual(try assembler.commit(transferID: id).size, 0)
  }

  func testHandleIgnoresOtherRequests() {
    var assembler = Assembler()
    XCTAssertNil(assembler.handle(.nodeInfo, now: 0))
  }
}

/// Array storage that counts the storages alive, to show buffers are released.
struct CountingStorage: TransferStorage {
  nonisolated(unsafe) static var live = 0
  var bytes: [UInt8]
  var released = false

  init?(size: Int) {
    bytes = [UInt8](repeating: 0, count: size)
    CountingStorage.live += 1
  }

  mutating func write(_ bytes: [UInt8], at offset: Int) {
    self.bytes.replaceSubrange(offset..<offset + bytes.count, with: bytes)
  }

  func read(at offset: Int, count: Int) -> [UInt8] { Array(bytes[offset..<offset + count]) }

  mutating func release() {
    precondition(!released, "released twice")
    released = true
    bytes = []
    CountingStorage.live -= 1
  }
}
