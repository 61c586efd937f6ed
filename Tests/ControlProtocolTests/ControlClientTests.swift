import ControlClient
import ControlProtocol
import XCTest

final class ControlClientTests: XCTestCase {
  var node: LoopbackNode!
  let fast = RetransmissionPolicy(initialTimeout: 50, maximumTimeout: 200, maximumAttempts: 5)

  override func setUpWithError() throws {
    node = try LoopbackNode(key: clusterKey, epoch: nodeEpoch)
  }

  override func tearDown() { node.stop() }

  func testARequestGetsItsAnswerOverUDP() throws {
    node.start()
    let client = try ControlClient(
      host: "127.0.0.1", port: node.port, key: clusterKey, policy: fast)
    // The first request learns the node's epoch (refused as stale, sealed again).
    guard case .nodeInfo(let info) = try client.send(.nodeInfo) else { return XCTFail() }
    XCTAssertEqual(info.version, Array("loopback".utf8))
    XCTAssertGreaterThanOrEqual(node.counters.refusedStaleEpoch, 1)
    XCTAssertEqual(try client.send(.pause(name: bytes("vm"))), .done)
    XCTAssertEqual(
      try client.send(.pause(name: bytes("vm"))),
      .failure(ControlFailure(.invalidState, text: "already paused")))
    XCTAssertThrowsError(try client.perform(.pause(name: bytes("vm")))) {
      XCTAssertEqual(
        ($0 as? ControlClientError)?.description,
        "the VM is not in a state that allows this: already paused")
    }
    // Round trips, for the record (not asserted: the machine is shared).
    let start = Date()
    for _ in 0..<200 { _ = try client.send(.nodeInfo) }
    print(
      "control round trip on loopback: \(Int(Date().timeIntervalSince(start) / 200 * 1_000_000)) us"
    )
  }

  func testALostAnswerIsRetransmittedAndTheRequestExecutedOnce() throws {
    node.loseAnswer = { $0 == 2 || $0 == 3 }  // after the epoch exchange, the pause's first two answers
    node.start()
    let client = try ControlClient(
      host: "127.0.0.1", port: node.port, key: clusterKey, policy: fast)
    XCTAssertEqual(try client.send(.pause(name: bytes("vm"))), .done)
    XCTAssertEqual(node.executedCount, 1, "executed once, answered three times")
    XCTAssertGreaterThanOrEqual(node.counters.duplicates, 2, "answered from the cache")
  }

  func testANodeThatDoesNotAnswerIsReportedAsSuch() throws {
    // Bound but never read: the datagrams go nowhere.
    let silent = try UDPSocket(bindingToLoopbackPort: 0)
    let client = try ControlClient(
      host: "127.0.0.1", port: silent.localPort, key: clusterKey,
      policy: RetransmissionPolicy(initialTimeout: 20, maximumTimeout: 40, maximumAttempts: 3))
    XCTAssertThrowsError(try client.send(.nodeInfo)) { error in
      guard case .noAnswer(let noAnswer, _, let port) = error as? ControlClientError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(noAnswer.attempts, 3)
      XCTAssertEqual(port, silent.localPort)
      XCTAssertTrue("\(error)".contains("did not answer"))
    }
  }

  func testAWrongKeyIsRefusedAndTheClientTimesOut() throws {
    node.start()
    let client = try ControlClient(
      host: "127.0.0.1", port: node.port, key: bytes("not the cluster key"),
      policy: RetransmissionPolicy(initialTimeout: 20, maximumTimeout: 40, maximumAttempts: 3))
    XCTAssertThrowsError(try client.send(.powerOff))
    // The node's thread may still be reading the last send.
    for _ in 0..<100 where node.counters.refusedUnauthenticated < 3 { usleep(10_000) }
    XCTAssertEqual(node.counters.refusedUnauthenticated, 3)
    XCTAssertEqual(node.executedCount, 0)
  }

  func testAFileTransfersInChunksWithProgressDespiteLosses() throws {
    node.loseAnswer = { $0 % 7 == 0 }
    node.start()
    let client = try ControlClient(
      host: "127.0.0.1", port: node.port, key: clusterKey, policy: fast)
    var random = SeededGenerator(seed: 99)
    let image = random.bytes(300_000 + 17)
    let path = NSTemporaryDirectory() + "control-transfer-\(getpid()).img"
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(image)))
    defer { try? FileManager.default.removeItem(atPath: path) }
    var reports: [UInt64] = []
    let start = Date()
    let receipt = try client.transferFile(at: path, as: bytes("disk.img"), window: 8) {
      done, total in
      XCTAssertEqual(total, UInt64(image.count))
      reports.append(done)
    }
    let seconds = Date().timeIntervalSince(start)
    print(
      "transfer on loopback with 1 in 7 answers lost: \(Int(Double(image.count) / seconds / 1024)) KiB/s"
    )
    XCTAssertEqual(receipt.size, UInt64(image.count))
    XCTAssertEqual(receipt.digest, SHA256Hasher.hash(image))
    XCTAssertEqual(node.image(named: bytes("disk.img")), image)
    XCTAssertEqual(reports, reports.sorted(), "progress only grows")
    XCTAssertEqual(reports.last, UInt64(image.count))
  }

  /// The node stops answering midway: the client says so, and the node, at its next check,
  /// closes the transfer and frees its buffer.
  func testATransferCutOffMidwayEndsWithClearErrorsOnBothSides() throws {
    node.loseRequest = { $0 > 12 }
    node.start()
    let client = try ControlClient(
      host: "127.0.0.1", port: node.port, key: clusterKey,
      policy: RetransmissionPolicy(initialTimeout: 20, maximumTimeout: 40, maximumAttempts: 3))
    var random = SeededGenerator(seed: 7)
    XCTAssertThrowsError(try client.transfer(random.bytes(100_000), as: bytes("cut"), window: 4)) {
      error in
      guard case .noAnswer = error as? ControlClientError else { return XCTFail("\(error)") }
    }
    XCTAssertEqual(
      node.openTransfers, 1, "the abort was lost too: the node still holds the transfer")
    XCTAssertEqual(node.expireTransfers(at: 29_999), [])
    XCTAssertEqual(node.expireTransfers(at: 30_000).count, 1)
    XCTAssertEqual(node.openTransfers, 0)
    XCTAssertNil(node.image(named: bytes("cut")))
  }

  func testListsAndStatesLongerThanADatagramAreReadInPages() throws {
    node.start()
    let client = try ControlClient(
      host: "127.0.0.1", port: node.port, key: clusterKey, policy: fast)
    let vms = try client.listAllVMs()
    XCTAssertEqual(vms.map(\.id), (0..<30).map(UInt16.init))
    let (status, state) = try client.statusWithState(of: bytes("vm-3"))
    XCTAssertEqual(status.summary.name, bytes("vm-3"))
    XCTAssertEqual(state, LoopbackNode.state)
    XCTAssertEqual(
      node.executedRequests.filter { if case .status = $0 { return true } else { return false } }.count, 3)
  }

  func testTransferErrorsAreReported() throws {
    node.start()
    let client = try ControlClient(
      host: "127.0.0.1", port: node.port, key: clusterKey, policy: fast)
    XCTAssertThrowsError(try client.transferFile(at: "/nonexistent/file", as: bytes("x"))) {
      XCTAssertEqual($0 as? ControlClientError, .unreadableFile("/nonexistent/file"))
    }
    XCTAssertThrowsError(try client.transfer([0], as: [])) {
      XCTAssertEqual(
        ($0 as? ControlClientError),
        .refused(ControlFailure(.invalidProfile, text: "the image name is empty")))
    }
  }
}
