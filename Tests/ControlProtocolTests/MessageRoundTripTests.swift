import ControlProtocol
import XCTest

final class MessageRoundTripTests: XCTestCase {
  let key = HMACSHA256(key: clusterKey)

  func testEveryRequestKindRoundTrips() throws {
    XCTAssertEqual(
      Set(SampleMessages.requests.map(\.kind.rawValue)), Set(MessageKind.allCases.map(\.rawValue)),
      "a sample of every kind")
    for request in SampleMessages.requests {
      let payload = try request.encodedPayload()
      XCTAssertEqual(try Request.decode(kind: request.kind, payload: payload), request)
      let header = DatagramHeader(
        kind: request.kind, isResponse: false, clientID: 42, epoch: nodeEpoch, sequence: 1 << 60)
      let bytes = try Datagram(header: header, payload: payload).sealed(with: key)
      XCTAssertLessThanOrEqual(bytes.count, ProtocolLimits.maximumDatagram)
      let opened = try Datagram.open(bytes, with: key)
      XCTAssertEqual(opened.header, header)
      XCTAssertEqual(try Request.decode(kind: opened.header.kind, payload: opened.payload), request)
    }
  }

  func testEveryResponseRoundTrips() throws {
    for (kind, response) in SampleMessages.responses {
      let payload = try response.encodedPayload(for: kind)
      XCTAssertLessThanOrEqual(payload.count, ProtocolLimits.maximumPayload, "\(kind)")
      XCTAssertEqual(try Response.decode(kind: kind, payload: payload), response, "\(kind)")
    }
  }

  /// The byte layout of docs/control-protocol.md, field by field.
  func testHeaderLayoutIsBigEndianAsDocumented() throws {
    let header = DatagramHeader(
      kind: .pause, isResponse: true, clientID: 0x0102_0304, epoch: 0x1112_1314_1516_1718,
      sequence: 0x2122_2324_2526_2728)
    let bytes = try Datagram(header: header, payload: [0xaa, 0xbb]).sealed(with: key)
    XCTAssertEqual(
      Array(bytes[0..<34]),
      [
        0x50, 0x47, 0x43, 0x50, 5, 5, 1, 0, 1, 2, 3, 4, 0, 2, 0, 0,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
        0x28,
        0xaa, 0xbb,
      ])
    XCTAssertEqual(Array(bytes[34...]), key.authenticationCode(for: Array(bytes[0..<34])))
  }

  func testEncodingRefusesWhatBreaksALimit() {
    var long = SampleMessages.specification
    long.name = [UInt8](repeating: 0x61, count: ProtocolLimits.maximumNameLength + 1)
    XCTAssertThrowsError(try Request.createVM(long).encodedPayload())
    var badMAC = SampleMessages.specification
    badMAC.nics = [[1, 2, 3]]
    XCTAssertThrowsError(try Request.createVM(badMAC).encodedPayload())
    XCTAssertThrowsError(
      try Response.done.encodedPayload(for: .nodeInfo), "a body of the wrong kind")
    XCTAssertThrowsError(try Response.failure(ControlFailure(.ok)).encodedPayload(for: .pause))
  }

  func testDecodingIsExactAndBounded() throws {
    let payload = try Request.pause(name: bytes("vm")).encodedPayload()
    XCTAssertThrowsError(try Request.decode(kind: .pause, payload: payload + [0])) {
      XCTAssertEqual($0 as? WireError, .trailingBytes(at: 3))
    }
    XCTAssertThrowsError(try Request.decode(kind: .pause, payload: Array(payload.dropLast()))) {
      XCTAssertEqual($0 as? WireError, .truncated(at: 1))
    }
    XCTAssertThrowsError(
      try Request.decode(kind: .pause, payload: [200] + [UInt8](repeating: 0x61, count: 200))
    ) {
      XCTAssertEqual(
        $0 as? WireError,
        .lengthOutOfRange(at: 0, length: 200, maximum: ProtocolLimits.maximumNameLength))
    }
    XCTAssertThrowsError(try Request.decode(kind: .status, payload: [1, 0x61, 2, 0, 0, 0, 0])) {
      XCTAssertEqual($0 as? WireError, .invalidValue(at: 2), "a boolean of 2")
    }
    // A list that claims more VMs than the rest of the payload can hold is refused before
    // anything is allocated for them.
    XCTAssertThrowsError(try Response.decode(kind: .listVMs, payload: [0, 20, 0, 0])) {
      XCTAssertEqual($0 as? WireError, .truncated(at: 2))
    }
  }

  /// Version 2's fields: a summary's uptime, and a node's health problems with an unknown
  /// kind or a count over the limit refused.
  func testVersion2FieldsAreWhereTheDocsSay() throws {
    let payload = try Response.created(SampleMessages.summary).encodedPayload(for: .createVM)
    XCTAssertEqual(Array(payload.suffix(8)), [0, 0, 0, 0, 0, 1, 0x81, 0xCD], "uptime 98 765 ms")
    let degraded = SampleMessages.responses[1].1
    var bytes = try degraded.encodedPayload(for: .nodeInfo)
    // After the problems: version 4's machine-check counts and an empty history (17 bytes).
    let problemsAt = bytes.count - 1 - ProtocolLimits.maximumHealthProblems * 11 - 17
    XCTAssertEqual(
      Array(bytes[problemsAt..<problemsAt + 4]), [8, 1, 0, 1], "8 problems; CPU 1 stalled")
    bytes[problemsAt + 1] = 9
    XCTAssertThrowsError(try Response.decode(kind: .nodeInfo, payload: bytes))
    bytes[problemsAt + 1] = 1
    bytes[problemsAt] = 9
    XCTAssertThrowsError(try Response.decode(kind: .nodeInfo, payload: bytes))
  }

  /// Version 4's fields: machine-check counts, then the health history; a history over the
  /// limit or with an unknown kind is refused.
  func testVersion4HealthHistoryIsWhereTheDocsSay() throws {
    let sick = SampleMessages.responses[2].1
    guard case .nodeInfo(let info) = sick else { return XCTFail("sample 2 is node info") }
    XCTAssertEqual(info.history.count, ProtocolLimits.maximumHealthHistory)
    var bytes = try sick.encodedPayload(for: .nodeInfo)
    XCTAssertLessThanOrEqual(bytes.count, ProtocolLimits.maximumPayload)
    let historyAt = bytes.count - 1 - ProtocolLimits.maximumHealthHistory * 19
    XCTAssertEqual(bytes[historyAt], UInt8(ProtocolLimits.maximumHealthHistory))
    XCTAssertEqual(Array(bytes[historyAt - 16..<historyAt - 8]), [0, 0, 0, 0, 0, 0, 0, 7])
    XCTAssertEqual(bytes[historyAt + 9], 1, "the first entry: a corrected machine check")
    XCTAssertEqual(try Response.decode(kind: .nodeInfo, payload: bytes), sick)
    bytes[historyAt + 9] = 9
    XCTAssertThrowsError(try Response.decode(kind: .nodeInfo, payload: bytes))
    bytes[historyAt + 9] = 1
    bytes[historyAt] = UInt8(ProtocolLimits.maximumHealthHistory + 1)
    XCTAssertThrowsError(try Response.decode(kind: .nodeInfo, payload: bytes))
    var tooLong = info
    tooLong.history.append(tooLong.history[0])
    XCTAssertThrowsError(try Response.nodeInfo(tooLong).encodedPayload(for: .nodeInfo))
  }

  func testSpecificationProblems() {
    XCTAssertNil(SampleMessages.specification.problem())
    var spec = SampleMessages.specification
    spec.nics[1] = [0x01, 0, 0x5e, 0, 0, 1]
    XCTAssertEqual(spec.problem()?.code, .invalidProfile, "a multicast MAC")
    spec = SampleMessages.specification
    spec.nics[1] = spec.nics[0]
    XCTAssertEqual(spec.problem()?.code, .invalidProfile, "two NICs, one MAC")
    spec = SampleMessages.specification
    spec.nics[0] = []
    XCTAssertNotNil(spec.problem(), "a MAC of no bytes")
    spec = SampleMessages.specification
    spec.vcpuCount = 0
    XCTAssertNotNil(spec.problem())
    spec = SampleMessages.specification
    spec.name = bytes("a b")
    XCTAssertNotNil(spec.problem())
    spec = SampleMessages.specification
    spec.memorySize = (1 << 20) + 1
    XCTAssertNotNil(spec.problem())
    spec = SampleMessages.specification
    spec.pinnedCPUs = [0]
    XCTAssertNotNil(spec.problem(), "pinned with fewer CPUs than vCPUs")
  }

  func testEveryStatusCodeHasAMessage() {
    for code in StatusCode.allCases {
      XCTAssertFalse("\(code.message)".isEmpty)
    }
  }
}
