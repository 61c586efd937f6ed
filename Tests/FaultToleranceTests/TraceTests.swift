import XCTest

@testable import FaultTolerance

final class TraceTests: XCTestCase {
  func testParsesEveryKindUnitAndCommentAndSortsByTime() throws {
    let trace = try FaultTrace.parse(
      """
      # a comment line
      2.5     node3  failure     # the failure
      90m     3      burst  count=12 bank=4
      3.5h    node3  recovery

      10s     node0  BURST
      """)
    XCTAssertEqual(
      trace.events,
      [
        FaultTrace.Event(seconds: 10, node: 0, kind: .burst, count: 1, bank: 0),
        FaultTrace.Event(seconds: 5400, node: 3, kind: .burst, count: 12, bank: 4),
        FaultTrace.Event(seconds: 9000, node: 3, kind: .failure),
        FaultTrace.Event(seconds: 12600, node: 3, kind: .recovery),
      ])
    XCTAssertEqual(trace.nodeCount, 4)
    XCTAssertEqual(trace.failures, 1)
  }

  /// Each malformed line is named by its number and what is wrong with it.
  func testMalformedLinesAreRefusedWithTheirLineNumber() {
    let cases: [(String, String)] = [
      (
        "1 node0 failure\n2 node1\n",
        "line 2: expected 'TIME NODE KIND [count=N] [bank=B]', found 2 fields"
      ),
      ("# c\n\nabc node0 failure\n", "line 3: 'abc' is not a time"),
      ("-1 node0 failure\n", "line 1: '-1' is not a time"),
      ("1 nodeX failure\n", "line 1: 'nodeX' is not a node (nodeK or K, K from 0)"),
      (
        "1 node0 explosion\n", "line 1: unknown event kind 'explosion' (burst, failure or recovery)"
      ),
      ("1 node0 burst count=0\n", "line 1: count must be a whole number ≥ 1, not '0'"),
      ("1 node0 burst bank=300\n", "line 1: bank must be a number from 0 to 255, not '300'"),
      (
        "1 node0 burst colour=red\n",
        "line 1: unexpected 'colour=red' (a burst takes count=N and bank=B)"
      ),
      (
        "1 node0 failure count=3\n",
        "line 1: unexpected 'count=3' (a failure takes nothing after its kind)"
      ),
    ]
    for (text, message) in cases {
      XCTAssertThrowsError(try FaultTrace.parse(text), text) { error in
        XCTAssertTrue(
          (error as? FaultToleranceError)?.message.hasPrefix(message) == true,
          "\(error) for \(text)")
      }
    }
  }

  func testAWrittenTraceReadsBackTheSame() throws {
    let trace = FaultTrace(events: [
      FaultTrace.Event(seconds: 1800, node: 2, kind: .burst, count: 10, bank: 0),
      FaultTrace.Event(seconds: 3600, node: 2, kind: .failure),
      FaultTrace.Event(seconds: 7200, node: 2, kind: .recovery),
    ])
    XCTAssertEqual(try FaultTrace.parse(trace.text(header: ["made by a test"])), trace)
  }

  /// The generator: Weibull gaps per node (renewal after repair), a precursor burst at the
  /// lead time before each failure, a recovery after each, all within the duration.
  func testGeneratedTracesHavePrecursorsRecoveriesAndTheRightFailureRate() throws {
    var generator = try TraceGenerator(
      distribution: WeibullDistribution(shape: 0.7, scale: 50), nodes: 64,
      durationSeconds: 2000 * 3600)
    generator.noisePerDay = 0
    let trace = generator.generate(seed: 3)
    XCTAssertEqual(trace, generator.generate(seed: 3), "deterministic for a seed")
    for node in 0..<64 {
      let events = trace.events.filter { $0.node == node }
      for (index, event) in events.enumerated() where event.kind == .failure {
        XCTAssertEqual(events[index - 1].kind, .burst)
        // 30 min ahead, or at the node's recovery when it fails sooner after it.
        let up = index >= 2 ? events[index - 2].seconds : 0
        XCTAssertEqual(
          event.seconds - events[index - 1].seconds, min(1800, event.seconds - up), accuracy: 1e-6)
        if index + 1 < events.count {
          XCTAssertEqual(events[index + 1].kind, .recovery)
          XCTAssertEqual(events[index + 1].seconds - event.seconds, 3600, accuracy: 1e-6)
        }
      }
    }
    XCTAssertTrue(trace.events.allSatisfy { $0.seconds < 2000 * 3600 })
    // A renewal process: about duration / (mean gap + repair) failures per node.
    let expected = 64 * 2000 / (generator.distribution.mean + 1)
    XCTAssertEqual(
      Double(trace.failures) / expected, 1, accuracy: 0.1, "\(trace.failures) failures")
  }

  func testNoiseIsSingleErrorsInBankOne() throws {
    var generator = try TraceGenerator(
      distribution: WeibullDistribution(shape: 0.8, scale: 1e9), nodes: 10,
      durationSeconds: 100 * 86400)
    generator.noisePerDay = 2
    let trace = generator.generate(seed: 1)
    XCTAssertEqual(trace.failures, 0)
    XCTAssertTrue(trace.events.allSatisfy { $0.kind == .burst && $0.count == 1 && $0.bank == 1 })
    XCTAssertEqual(Double(trace.events.count), 2000, accuracy: 200)
  }
}
