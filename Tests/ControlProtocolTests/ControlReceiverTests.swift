import ControlProtocol
import XCTest

final class ControlReceiverTests: XCTestCase {
  var receiver = ControlReceiver(key: clusterKey, epoch: nodeEpoch)
  var client = ClientSession(key: clusterKey, clientID: 7, firstSequence: 1000, epoch: nodeEpoch)

  private func execute(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line)
    -> AcceptedRequest?
  {
    guard case .execute(let accepted) = receiver.receive(bytes) else {
      XCTFail("not executed", file: file, line: line)
      return nil
    }
    return accepted
  }

  private func failure(in bytes: [UInt8], for outgoing: OutgoingRequest) -> ControlFailure? {
    let key = HMACSHA256(key: clusterKey)
    guard let datagram = try? Datagram.open(bytes, with: key),
      case .failure(let failure)? = try? Response.decode(
        kind: outgoing.kind, payload: datagram.payload)
    else { return nil }
    return failure
  }

  func testRetransmissionThenDuplicateGetsTheCachedResponse() throws {
    let outgoing = try client.seal(.pause(name: bytes("vm")))
    let accepted = try XCTUnwrap(execute(outgoing.bytes))
    XCTAssertEqual(accepted.request, .pause(name: bytes("vm")))
    XCTAssertEqual(receiver.receive(outgoing.bytes), .drop(.inProgress), "still executing")
    let response = receiver.respond(to: accepted, with: .done)
    // The response is lost; the client sends again and gets the same answer, not a second pause.
    XCTAssertEqual(receiver.receive(outgoing.bytes), .send(response))
    XCTAssertEqual(receiver.receive(outgoing.bytes), .send(response))
    XCTAssertEqual(client.interpret(response, for: outgoing), .response(.done))
    XCTAssertEqual(receiver.counters.accepted, 1)
    XCTAssertEqual(receiver.counters.duplicates, 3)
  }

  /// Each refusal is counted, answered as documented, and leaves the receiver as it was: the
  /// genuine request with the same sequence number is still executed afterwards.
  func testRefusalsAreCountedAndChangeNothing() throws {
    let genuine = try client.seal(.destroy(name: bytes("vm")))
    var badTag = genuine.bytes
    badTag[badTag.count - 1] ^= 1
    var badPayload = genuine.bytes
    badPayload[DatagramHeader.size] ^= 0x80
    var wrongKey = ClientSession(
      key: bytes("another cluster's key"), clientID: 7, firstSequence: 1000, epoch: nodeEpoch)
    var wrongVersion = genuine.bytes
    wrongVersion[4] = 1  // the version before this one
    var longer = genuine.bytes
    longer.insert(0, at: DatagramHeader.size)
    var huge = genuine.bytes
    huge[12] = 0xff
    huge[13] = 0xff
    let oversize =
      [UInt8](genuine.bytes[..<DatagramHeader.size]) + [UInt8](repeating: 0, count: 1500)

    XCTAssertEqual(receiver.receive(badTag), .drop(.unauthenticated))
    XCTAssertEqual(receiver.receive(badPayload), .drop(.unauthenticated))
    XCTAssertEqual(
      receiver.receive(try wrongKey.seal(.destroy(name: bytes("vm"))).bytes),
      .drop(.unauthenticated))
    XCTAssertEqual(
      receiver.receive(Array(genuine.bytes.dropLast())),
      .drop(.malformed(.lengthMismatch(declared: 3, actual: 2))))
    XCTAssertEqual(
      receiver.receive(Array(genuine.bytes[..<40])), .drop(.malformed(.truncated(at: 40))))
    XCTAssertEqual(receiver.receive(wrongVersion), .drop(.malformed(.unsupportedVersion(1))))
    XCTAssertEqual(
      receiver.receive(longer), .drop(.malformed(.lengthMismatch(declared: 3, actual: 4))))
    XCTAssertEqual(
      receiver.receive(huge), .drop(.malformed(.lengthMismatch(declared: 65535, actual: 3))))
    XCTAssertEqual(
      receiver.receive(oversize),
      .drop(
        .malformed(.lengthOutOfRange(at: 0, length: 1532, maximum: ProtocolLimits.maximumDatagram)))
    )
    XCTAssertEqual(receiver.receive([]), .drop(.malformed(.truncated(at: 0))))
    XCTAssertEqual(receiver.counters.refusedUnauthenticated, 3)
    XCTAssertEqual(receiver.counters.refusedMalformed, 7)
    XCTAssertEqual(receiver.counters.accepted, 0)

    let accepted = try XCTUnwrap(execute(genuine.bytes))
    XCTAssertEqual(accepted.sequence, genuine.sequence)
    XCTAssertEqual(accepted.request, .destroy(name: bytes("vm")))
  }

  func testAReplayedRequestWhoseAnswerIsGoneIsRefused() throws {
    let first = try client.seal(.destroy(name: bytes("vm")))
    receiver.respond(to: try XCTUnwrap(execute(first.bytes)), with: .done)
    // 16 other requests push the answer out of the cache.
    for _ in 0..<16 {
      let other = try client.seal(.nodeInfo)
      receiver.respond(
        to: try XCTUnwrap(execute(other.bytes)), with: .failure(ControlFailure(.busy)))
    }
    let decision = receiver.receive(first.bytes)
    guard case .send(let refusal) = decision else { return XCTFail("\(decision)") }
    let failure = try XCTUnwrap(failure(in: refusal, for: first))
    XCTAssertEqual(failure.code, .replayed)
    XCTAssertEqual(failure.nextSequence, client.nextSequence)
    XCTAssertEqual(receiver.counters.refusedReplayed, 1)
    XCTAssertEqual(receiver.counters.accepted, 17)
  }

  func testASequenceNumberBelowTheWindowIsRefused() throws {
    var late = ClientSession(key: clusterKey, clientID: 7, firstSequence: 1000, epoch: nodeEpoch)
    let old = try late.seal(.pause(name: bytes("vm")))  // 1000, never sent
    var ahead = ClientSession(
      key: clusterKey, clientID: 7, firstSequence: 1000 + 64, epoch: nodeEpoch)
    _ = execute(try ahead.seal(.nodeInfo).bytes)
    guard case .send(let refusal) = receiver.receive(old.bytes) else { return XCTFail() }
    XCTAssertEqual(failure(in: refusal, for: old)?.code, .replayed)
    XCTAssertEqual(receiver.counters.refusedReplayed, 1)
    // The client learns where to continue, and its next request goes through.
    XCTAssertEqual(
      late.interpret(refusal, for: old),
      .sequenceRefused(ControlFailure(.replayed, nextSequence: 1065)))
    XCTAssertNotNil(execute(try late.seal(.pause(name: bytes("vm"))).bytes))
  }

  func testARetransmissionWithAnotherTagIsNotAnsweredFromTheCache() throws {
    let outgoing = try client.seal(.pause(name: bytes("a")))
    receiver.respond(to: try XCTUnwrap(execute(outgoing.bytes)), with: .done)
    // Same client and sequence number, another request: someone reusing the number.
    var twin = ClientSession(key: clusterKey, clientID: 7, firstSequence: 1000, epoch: nodeEpoch)
    let other = try twin.seal(.destroy(name: bytes("a")))
    guard case .send(let refusal) = receiver.receive(other.bytes) else { return XCTFail() }
    XCTAssertEqual(failure(in: refusal, for: other)?.code, .replayed)
  }

  func testAStaleEpochIsRefusedAndTheClientLearnsTheNewOne() throws {
    var fresh = ClientSession(key: clusterKey, clientID: 9, firstSequence: 5000)
    let first = try fresh.seal(.nodeInfo)
    guard case .send(let refusal) = receiver.receive(first.bytes) else { return XCTFail() }
    XCTAssertEqual(receiver.counters.refusedStaleEpoch, 1)
    XCTAssertEqual(receiver.counters.accepted, 0)
    XCTAssertEqual(fresh.interpret(refusal, for: first), .resend)
    XCTAssertEqual(fresh.epoch, nodeEpoch)
    let again = try fresh.seal(.nodeInfo)
    XCTAssertGreaterThan(again.sequence, first.sequence)
    let accepted = try XCTUnwrap(execute(again.bytes))
    let info = NodeInfo(
      version: bytes("test"), backend: .vmx, cpuCount: 1, coresPerPackage: 1, totalMemory: 1 << 30,
      freeMemory: 1 << 29, vmCount: 0, uptimeMilliseconds: 5, counters: receiver.counters)
    let response = receiver.respond(to: accepted, with: .nodeInfo(info))
    XCTAssertEqual(fresh.interpret(response, for: again), .response(.nodeInfo(info)))
    // A node that restarts has a new epoch: the requests of the old one are refused there.
    var restarted = ControlReceiver(key: clusterKey, epoch: nodeEpoch + 1)
    guard case .send = restarted.receive(again.bytes) else { return XCTFail() }
    XCTAssertEqual(restarted.counters.refusedStaleEpoch, 1)
    XCTAssertEqual(restarted.counters.accepted, 0)
  }

  func testAResponseSentToTheNodeIsRefused() throws {
    let outgoing = try client.seal(.powerOff)
    let response = receiver.respond(to: try XCTUnwrap(execute(outgoing.bytes)), with: .done)
    var other = ControlReceiver(key: clusterKey, epoch: nodeEpoch)
    XCTAssertEqual(other.receive(response), .drop(.malformed(.invalidValue(at: 6))))
    XCTAssertEqual(other.counters.refusedMalformed, 1)
  }

  func testAnAuthenticRequestWithAMalformedPayloadIsAnsweredNotExecuted() throws {
    let key = HMACSHA256(key: clusterKey)
    let header = DatagramHeader(
      kind: .pause, isResponse: false, clientID: 7, epoch: nodeEpoch, sequence: 77)
    let bytes = try Datagram(header: header, payload: [40]).sealed(with: key)
    guard case .send(let answer) = receiver.receive(bytes) else { return XCTFail() }
    XCTAssertEqual(
      failure(in: answer, for: OutgoingRequest(kind: .pause, sequence: 77, bytes: bytes))?.code,
      .malformed)
    XCTAssertEqual(receiver.counters.refusedMalformed, 1)
    XCTAssertEqual(receiver.counters.accepted, 0)
    XCTAssertEqual(receiver.receive(bytes), .send(answer), "its retransmission: the same answer")
  }

  func testAResponseOverTheLimitsBecomesAnInternalError() throws {
    let outgoing = try client.seal(.listVMs(startIndex: 0))
    let accepted = try XCTUnwrap(execute(outgoing.bytes))
    let tooMany = VMList(vms: Array(repeating: SampleMessages.summary, count: 100), total: 100)
    let response = receiver.respond(to: accepted, with: .vmList(tooMany))
    guard case .response(.failure(let failure)) = client.interpret(response, for: outgoing) else {
      return XCTFail()
    }
    XCTAssertEqual(failure.code, .internalError)
  }

  func testTheClientIgnoresForeignAndUnrelatedDatagrams() throws {
    let first = try client.seal(.nodeInfo)
    let second = try client.seal(.nodeInfo)
    let late = receiver.respond(
      to: try XCTUnwrap(execute(first.bytes)), with: .failure(ControlFailure(.busy)))
    XCTAssertEqual(client.interpret(late, for: second), .unrelated)
    var forged = late
    forged[40] ^= 1
    XCTAssertEqual(client.interpret(forged, for: first), .ignored(.unauthenticated))
    XCTAssertEqual(
      client.interpret(first.bytes, for: first), .unrelated, "its own request echoed back")
  }
}
