import ControlProtocol
import XCTest

/// Deterministic fuzzing (seeded): random and mutated datagrams and payloads must decode to a
/// value or a precise error, never trap; what decodes must encode back to the same bytes
/// (the encoding is canonical); and the receiver counts every datagram exactly once.
final class DatagramFuzzTests: XCTestCase {
  let key = HMACSHA256(key: clusterKey)

  private func mutate(_ input: [UInt8], _ random: inout SeededGenerator) -> [UInt8] {
    var bytes = input
    for _ in 0..<Int.random(in: 1...4, using: &random) {
      switch Int.random(in: 0..<6, using: &random) {
      case 0 where !bytes.isEmpty:
        bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8(
          1 << Int.random(in: 0..<8, using: &random))
      case 1 where !bytes.isEmpty:
        bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(
          in: 0...255, using: &random)
      case 2 where !bytes.isEmpty:
        bytes.removeLast(Int.random(in: 1...bytes.count, using: &random))
      case 3:
        bytes.insert(
          UInt8.random(in: 0...255, using: &random),
          at: Int.random(in: 0...bytes.count, using: &random))
      case 4 where !bytes.isEmpty:
        // A length-like byte set to an extreme.
        bytes[Int.random(in: 0..<bytes.count, using: &random)] = [0, 1, 0x7f, 0x80, 0xff]
          .randomElement(using: &random)!
      default:
        bytes += random.bytes(Int.random(in: 0...8, using: &random))
      }
    }
    return bytes
  }

  private var seedPayloads: [(MessageKind, [UInt8], isResponse: Bool)] {
    SampleMessages.requests.map { ($0.kind, try! $0.encodedPayload(), false) }
      + SampleMessages.responses.map { ($0.0, try! $0.1.encodedPayload(for: $0.0), true) }
  }

  func testPayloadDecodersAreTotalAndCanonical() {
    var random = SeededGenerator(seed: 0x5eed_0001)
    let seeds = seedPayloads
    var decoded = 0
    for iteration in 0..<50_000 {
      let kind = MessageKind.allCases.randomElement(using: &random)!
      let payload: [UInt8]
      if iteration % 4 == 0 {
        payload = random.bytes(Int.random(in: 0...64, using: &random))
      } else {
        payload = mutate(seeds.randomElement(using: &random)!.1, &random)
      }
      if let request = try? Request.decode(kind: kind, payload: payload) {
        decoded += 1
        XCTAssertEqual(
          try request.encodedPayload(), payload, "request \(kind) re-encodes as it came")
      }
      if let response = try? Response.decode(kind: kind, payload: payload) {
        decoded += 1
        XCTAssertEqual(
          try response.encodedPayload(for: kind), payload, "response \(kind) re-encodes as it came")
      }
    }
    XCTAssertGreaterThan(decoded, 1000, "the mutations reach the decoders' success paths too")
  }

  func testReceiverSurvivesRandomAndMutatedDatagrams() throws {
    var random = SeededGenerator(seed: 0x5eed_0002)
    var receiver = ControlReceiver(key: clusterKey, epoch: nodeEpoch)
    var client = ClientSession(key: clusterKey, clientID: 3, firstSequence: 1, epoch: nodeEpoch)
    let seeds = try SampleMessages.requests.map { try client.seal($0).bytes }
    var executed: UInt64 = 0
    var sent: UInt64 = 0
    var dropped: UInt64 = 0
    let count = 50_000
    for iteration in 0..<count {
      var bytes: [UInt8]
      switch iteration % 4 {
      case 0:
        bytes = random.bytes(Int.random(in: 0...200, using: &random))
        if iteration % 8 == 0 && bytes.count >= 5 {
          bytes.replaceSubrange(0..<5, with: DatagramHeader.magic + [DatagramHeader.currentVersion])
        }
      case 1:
        bytes = mutate(seeds.randomElement(using: &random)!, &random)
      default:
        // Mutated, then sealed again with the right key: past the tag, into the checks
        // after it (direction, epoch, window, payload).
        let mutated = mutate(seeds.randomElement(using: &random)!, &random)
        guard mutated.count >= DatagramHeader.size + HMACSHA256.tagSize else {
          bytes = mutated
          break
        }
        bytes = Array(mutated.dropLast(HMACSHA256.tagSize))
        let payloadLength = bytes.count - DatagramHeader.size
        if iteration % 3 != 0 && payloadLength <= 0xffff {
          bytes[12] = UInt8(payloadLength >> 8)
          bytes[13] = UInt8(payloadLength & 0xff)
        }
        bytes += key.authenticationCode(for: bytes)
      }
      switch receiver.receive(bytes) {
      case .execute(let accepted):
        executed += 1
        XCTAssertLessThanOrEqual(
          try accepted.request.encodedPayload().count, ProtocolLimits.maximumPayload)
        receiver.respond(to: accepted, with: .failure(ControlFailure(.notSupported)))
      case .send(let answer):
        sent += 1
        XCTAssertNoThrow(try Datagram.open(answer, with: key))
      case .drop:
        dropped += 1
      }
    }
    let counters = receiver.counters
    XCTAssertEqual(executed + sent + dropped, UInt64(count))
    XCTAssertEqual(counters.accepted, executed)
    XCTAssertEqual(
      counters.accepted + counters.duplicates + counters.refusedUnauthenticated
        + counters.refusedMalformed
        + counters.refusedReplayed + counters.refusedStaleEpoch,
      UInt64(count), "every datagram counted once")
    XCTAssertGreaterThan(counters.refusedUnauthenticated, 0)
    XCTAssertGreaterThan(counters.refusedMalformed, 0)
    XCTAssertGreaterThan(counters.refusedStaleEpoch, 0)
    XCTAssertGreaterThan(executed, 0)
  }
}
