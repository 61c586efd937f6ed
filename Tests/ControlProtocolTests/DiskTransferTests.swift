import ControlClient
import ControlProtocol
import Foundation
import XCTest

/// Disks over the control protocol: sparse transfers (chunks of zeros left out, the digest
/// of the whole checked), the node's zero-skipping `diskRead` scan, the capacity refusal,
/// and the real client against a loopback node doing both ways.
final class DiskTransferTests: XCTestCase {
  /// 64 KiB, data in KiB 0, 10 and the last (partly), zeros elsewhere.
  private func sparseImage() -> [UInt8] {
    var image = [UInt8](repeating: 0, count: 64 << 10)
    for index in 0..<1024 { image[index] = UInt8(index & 0xff) | 1 }
    image[10 * 1024 + 500] = 7
    image[image.count - 1] = 9
    return image
  }

  private func chunks(of image: [UInt8], id: UInt32, skippingZeros: Bool) -> [TransferChunk] {
    stride(from: 0, to: image.count, by: 1024).compactMap { offset in
      let bytes = Array(image[offset..<min(image.count, offset + 1024)])
      if skippingZeros && bytes.allSatisfy({ $0 == 0 }) { return nil }
      return TransferChunk(transferID: id, offset: UInt64(offset), bytes: bytes)
    }
  }

  func testASparseTransferCommitsWithoutItsChunksOfZeros() throws {
    let image = sparseImage()
    var assembler = TransferAssembler<ArrayTransferStorage>()
    let ticket = try assembler.begin(
      TransferDescription(
        name: Array("vm.disk".utf8), size: UInt64(image.count),
        digest: SHA256Hasher.hash(image), sparse: true), now: 0)
    let sent = chunks(of: image, id: ticket.transferID, skippingZeros: true)
    XCTAssertEqual(sent.count, 3)
    for chunk in sent { _ = try assembler.accept(chunk, now: 1) }
    let completed = try assembler.commit(transferID: ticket.transferID)
    XCTAssertEqual(completed.storage.bytes, image)
  }

  func testASparseTransferMissingDataFailsItsDigest() throws {
    let image = sparseImage()
    var assembler = TransferAssembler<ArrayTransferStorage>()
    let ticket = try assembler.begin(
      TransferDescription(
        name: Array("vm.disk".utf8), size: UInt64(image.count),
        digest: SHA256Hasher.hash(image), sparse: true), now: 0)
    // The chunk at KiB 10 holds a byte: left out, the digest does not match.
    for chunk in chunks(of: image, id: ticket.transferID, skippingZeros: true)
    where chunk.offset != 10 * 1024 {
      _ = try assembler.accept(chunk, now: 1)
    }
    XCTAssertThrowsError(try assembler.commit(transferID: ticket.transferID)) {
      XCTAssertEqual(($0 as? ControlFailure)?.code, .digestMismatch)
    }
  }

  func testADenseTransferStillNeedsEveryChunk() throws {
    let image = sparseImage()
    var assembler = TransferAssembler<ArrayTransferStorage>()
    let ticket = try assembler.begin(
      TransferDescription(
        name: Array("kernel".utf8), size: UInt64(image.count), digest: SHA256Hasher.hash(image)),
      now: 0)
    for chunk in chunks(of: image, id: ticket.transferID, skippingZeros: true) {
      _ = try assembler.accept(chunk, now: 1)
    }
    XCTAssertThrowsError(try assembler.commit(transferID: ticket.transferID)) {
      XCTAssertEqual(($0 as? ControlFailure)?.code, .transferIncomplete)
    }
  }

  func testTheScanSkipsZerosAndStopsWhereItMust() {
    let image = sparseImage()
    image.withUnsafeBytes { disk in
      XCTAssertEqual(
        DiskScan.read(disk, from: 0, maximumLength: 1024),
        DiskData(size: 64 << 10, offset: 0, bytes: Array(image[0..<1024])))
      XCTAssertEqual(
        DiskScan.read(disk, from: 1024, maximumLength: 1024)?.offset, 10 * 1024, "zeros skipped")
      XCTAssertEqual(DiskScan.read(disk, from: 1024, maximumLength: 100)?.bytes.count, 100)
      XCTAssertEqual(DiskScan.read(disk, from: 11 * 1024, maximumLength: 1024)?.offset, 63 * 1024)
      XCTAssertEqual(
        DiskScan.read(disk, from: 64 << 10, maximumLength: 1024),
        DiskData(size: 64 << 10, offset: 64 << 10, bytes: []), "the end")
      XCTAssertNil(DiskScan.read(disk, from: 100, maximumLength: 1024), "unaligned")
      XCTAssertNil(DiskScan.read(disk, from: 65 << 10, maximumLength: 1024), "beyond the end")
    }
    // A stretch of zeros longer than one scan: answered with no bytes where the scan ended.
    let large = [UInt8](repeating: 0, count: DiskScan.scanLimit + 4096)
    large.withUnsafeBytes { disk in
      XCTAssertEqual(
        DiskScan.read(disk, from: 0, maximumLength: 1024),
        DiskData(size: UInt64(large.count), offset: UInt64(DiskScan.scanLimit), bytes: []))
    }
  }

  func testAnImageLargerThanTheNodeIsRefusedWithTheNumbers() {
    let refusal = TransferCapacity.refusal(imageBytes: 2 << 30, freeBytes: 900 << 20)
    XCTAssertEqual(refusal?.code, .insufficientMemory)
    XCTAssertEqual(
      String(decoding: refusal?.detail ?? [], as: UTF8.self),
      "the image needs 2048 MiB and the node has 900 MiB free")
    XCTAssertNil(TransferCapacity.refusal(imageBytes: 64 << 20, freeBytes: 900 << 20))
    XCTAssertNotNil(
      TransferCapacity.refusal(imageBytes: 64 << 20, freeBytes: 64 << 20), "nothing left over")
  }

  /// The real client both ways against a loopback node that assembles transfers and
  /// answers disk reads from what it assembled.
  func testTheClientSendsSparseAndReadsBackWhatItSent() throws {
    let key = [UInt8](repeating: 0x44, count: 32)
    let node = LoopbackDiskNode(key: key)
    var image = [UInt8](repeating: 0, count: 256 << 10)
    for index in stride(from: 0, to: 4096, by: 1) {
      image[100 << 10 + index] = UInt8(index % 253) | 1
    }
    image[200 << 10] = 1
    node.serve()
    let policy = RetransmissionPolicy(initialTimeout: 50, maximumTimeout: 200, maximumAttempts: 5)
    let client = try ControlClient(host: "127.0.0.1", port: node.port, key: key, policy: policy)
    let receipt = try client.transfer(image, as: Array("vm.disk".utf8), sparse: true)
    XCTAssertEqual(receipt.digest, SHA256Hasher.hash(image))
    XCTAssertEqual(client.lastTransferCounts.sentChunks, 5, "4 KiB of pattern and one byte")
    XCTAssertEqual(client.lastTransferCounts.skippedChunks, 251)
    XCTAssertEqual(node.chunksReceived, 5)
    // 16 KiB hashed a request: the 5 chunks took 80 KiB (data and the zeros below the last
    // one); the other 176 KiB took 11 ends, 10 of them answered "still hashing".
    XCTAssertEqual(node.stillHashing, 10)
    let read = try client.readDisk(of: Array("vm".utf8))
    XCTAssertEqual(read.image, image)
    XCTAssertEqual(read.dataChunks, 5)
    XCTAssertEqual(read.requests, 6, "one per chunk of data, and the zeros at the end")
    XCTAssertEqual(node.stillHashing, 10 + 15, "the disk's 256 KiB at 16 KiB a request")
    node.stop()
  }
}

/// A node on loopback whose VM "vm" has as its disk whatever image was last transferred.
final class LoopbackDiskNode: @unchecked Sendable {
  let descriptor: Int32
  let port: UInt16
  var receiver: ControlReceiver
  /// A small hashing budget, so the client's "still hashing" rounds are exercised.
  var assembler = TransferAssembler<ArrayTransferStorage>(limits: LoopbackDiskNode.limits)
  static var limits: TransferAssembler<ArrayTransferStorage>.Limits {
    var limits = TransferAssembler<ArrayTransferStorage>.Limits()
    limits.hashBytesPerRequest = 16 << 10
    return limits
  }
  var disk: [UInt8] = []
  var digest: ImageDigestFrontier?
  var chunksReceived = 0
  var stillHashing = 0
  var stopped = false
  let done = DispatchSemaphore(value: 0)

  init(key: [UInt8]) {
    descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let descriptor = self.descriptor
    withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        _ = bind(descriptor, $0, length)
        _ = getsockname(descriptor, $0, &length)
      }
    }
    port = UInt16(bigEndian: address.sin_port)
    receiver = ControlReceiver(key: key, epoch: 9)
    var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
    setsockopt(
      descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  }

  func answer(_ request: Request) -> Response {
    switch request {
    case .diskRead(_, let offset, let maximumLength):
      let data = disk.withUnsafeBytes {
        DiskScan.read($0, from: offset, maximumLength: Int(maximumLength))
      }
      return data.map { .diskData($0) } ?? .failure(ControlFailure(.chunkOutOfBounds))
    case .diskDigest:
      // As the node does: 16 KiB a request, "still hashing" until done.
      if digest == nil { digest = ImageDigestFrontier(size: disk.count) }
      guard disk.withUnsafeBytes({ digest!.advance(over: $0, budget: 16 << 10) }) else {
        stillHashing += 1
        return .failure(ControlFailure(.busy, text: "still hashing the disk: ask again"))
      }
      defer { digest = nil }
      return .diskDigest(DiskDigest(size: UInt64(disk.count), digest: digest!.finalize()))
    default:
      if case .transferChunk = request { chunksReceived += 1 }
      guard let (response, completed) = assembler.handle(request, now: 0) else {
        return .failure(ControlFailure(.notSupported))
      }
      if case .failure(let failure) = response, failure.code == .busy { stillHashing += 1 }
      if let completed { disk = completed.storage.bytes }
      return response
    }
  }

  func serve() {
    Thread {
      defer { self.done.signal() }
      while !self.stopped {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var peer = sockaddr_storage()
        var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let received = withUnsafeMutablePointer(to: &peer) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            recvfrom(self.descriptor, &buffer, buffer.count, 0, $0, &peerLength)
          }
        }
        guard received > 0 else { continue }
        let reply: [UInt8]
        switch self.receiver.receive(Array(buffer[0..<received])) {
        case .drop: continue
        case .send(let bytes): reply = bytes
        case .execute(let accepted):
          reply = self.receiver.respond(to: accepted, with: self.answer(accepted.request))
        }
        _ = withUnsafeMutablePointer(to: &peer) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(self.descriptor, reply, reply.count, 0, $0, peerLength)
          }
        }
      }
    }.start()
  }

  func stop() {
    stopped = true
    done.wait()
    close(descriptor)
  }
}
