import XCTest

@testable import FaultTolerance

final class CostModelTests: XCTestCase {
  func testPlaceholderFilesAreMarkedAndInterpolateBySize() throws {
    let costs = try CostModel.parse(
      """
      placeholder
      migration 512MiB 6
      migration 2GiB 24
      downtime 512MiB 0.3
      checkpoint 512MiB 5
      restore 512MiB 5
      restart 60
      """)
    XCTAssertTrue(costs.isPlaceholder)
    XCTAssertEqual(costs.seconds(.migration, memoryBytes: 512 << 20), 6, accuracy: 1e-9)
    XCTAssertEqual(costs.seconds(.migration, memoryBytes: 1280 << 20), 15, accuracy: 1e-9)
    // Past the largest size: the last segment's slope.
    XCTAssertEqual(costs.seconds(.migration, memoryBytes: 3584 << 20), 42, accuracy: 1e-9)
    XCTAssertEqual(costs.restartSeconds, 60)
  }

  func testTheBuiltInCostsAreMeasuredAndTheCommittedFileHoldsThem() throws {
    let costs = CostModel.builtIn
    XCTAssertFalse(costs.isPlaceholder)
    // One measured size (128 MiB): 512 MiB costs four times as much.
    XCTAssertEqual(costs.seconds(.migration, memoryBytes: 512 << 20), 4 * 54.7, accuracy: 1e-9)
    XCTAssertEqual(costs.seconds(.restore, memoryBytes: 128 << 20), 11.0, accuracy: 1e-9)
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../traces/costs.txt").standardized
    let text = try String(contentsOf: file, encoding: .utf8)
    XCTAssertEqual(try CostModel.parse(text), costs)
  }

  func testOneSizeScalesInProportionAndMeasuredFilesAreNotPlaceholders() throws {
    let costs = try CostModel.parse(
      "migration 1GiB 10\ndowntime 1GiB 0.5s\ncheckpoint 1GiB 8\nrestore 1GiB 9\nrestart 30\n")
    XCTAssertFalse(costs.isPlaceholder)
    XCTAssertEqual(costs.seconds(.migration, memoryBytes: 512 << 20), 5, accuracy: 1e-9)
    XCTAssertEqual(costs.seconds(.downtime, memoryBytes: 2 << 30), 1, accuracy: 1e-9)
  }

  func testBadCostsFilesAreRefusedWithTheLine() {
    let complete = "downtime 1G 1\ncheckpoint 1G 1\nrestore 1G 1\nrestart 1\n"
    let cases: [(String, String)] = [
      ("migration 1GiB\n" + complete, "line 1: expected 'migration SIZE SECONDS'"),
      ("migration lots 3\n" + complete, "line 1: 'lots' is not a memory size"),
      ("migration 1G -3\n" + complete, "line 1: '-3' is not a number of seconds"),
      ("teleport 1G 3\n" + complete, "line 1: unknown cost 'teleport'"),
      ("migration 1G 3\nmigration 1G 4\n" + complete, "line 2: a second 'migration' for 1G"),
      (complete, "no 'migration SIZE SECONDS' line"),
      (
        "migration 1G 3\ndowntime 1G 1\ncheckpoint 1G 1\nrestore 1G 1\n",
        "no 'restart SECONDS' line"
      ),
    ]
    for (text, message) in cases {
      XCTAssertThrowsError(try CostModel.parse(text)) { error in
        XCTAssertTrue("\(error)".hasPrefix(message), "\(error)")
      }
    }
  }
}
