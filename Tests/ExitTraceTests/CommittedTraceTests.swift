import Foundation
import HypervisorCore
import XCTest

/// Every trace committed under Traces/ (docs/exit-trace.md), and every `.trace` file in the
/// directory named by PEREGRINE_TRACE_DIR (the integration case's freshly recorded one),
/// replayed through the real handlers: every outcome, register and backend question must
/// match. A file that is not a valid trace is reported by name and not replayed.
final class CommittedTraceTests: XCTestCase {
  static var committedDirectory: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Traces")
  }

  static func traceFiles(in directory: URL) -> [URL] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".trace") }.sorted().map {
      directory.appendingPathComponent($0)
    }
  }

  /// Loads and replays one file; the failures, each naming the file.
  static func check(_ url: URL) -> [String] {
    let name = url.lastPathComponent
    guard let data = FileManager.default.contents(atPath: url.path) else {
      return ["\(name): cannot be read"]
    }
    switch ExitTraceFile.decode([UInt8](data)) {
    case .failure(let error):
      return ["\(name): not a valid trace, not replayed: \(error)"]
    case .success(let file):
      guard !file.records.isEmpty else { return ["\(name): holds no records"] }
      return ExitTraceReplay(file).run().map { "\(name): \($0)" }
    }
  }

  func testEveryCommittedTraceReplays() {
    let files = Self.traceFiles(in: Self.committedDirectory)
    XCTAssertFalse(files.isEmpty, "no traces under \(Self.committedDirectory.path)")
    for url in files {
      let failures = Self.check(url)
      XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }
  }

  func testTracesInPEREGRINE_TRACE_DIRReplay() throws {
    guard let path = ProcessInfo.processInfo.environment["PEREGRINE_TRACE_DIR"] else {
      throw XCTSkip("PEREGRINE_TRACE_DIR not set")
    }
    let files = Self.traceFiles(in: URL(fileURLWithPath: path))
    XCTAssertFalse(files.isEmpty, "no .trace files in \(path)")
    for url in files {
      let failures = Self.check(url)
      XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
      if failures.isEmpty { print("replayed \(url.lastPathComponent): every record matches") }
    }
  }

  /// A broken copy of a trace (cut short, or one byte changed) is reported by its name and
  /// not replayed.
  func testABrokenFileIsReportedByNameNotReplayed() throws {
    let source = try XCTUnwrap(Self.traceFiles(in: Self.committedDirectory).first)
    let bytes = [UInt8](try Data(contentsOf: source))
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "peregrine-broken-traces-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let truncated = directory.appendingPathComponent("truncated.trace")
    try Data(bytes.prefix(bytes.count - 10)).write(to: truncated)
    var flipped = bytes
    flipped[flipped.count - 3] ^= 0x40
    let corrupt = directory.appendingPathComponent("corrupt.trace")
    try Data(flipped).write(to: corrupt)

    let truncatedFailures = Self.check(truncated)
    XCTAssertEqual(truncatedFailures.count, 1)
    XCTAssertTrue(
      truncatedFailures[0].hasPrefix("truncated.trace: not a valid trace, not replayed")
        && truncatedFailures[0].contains("lengthMismatch"), "\(truncatedFailures)")
    let corruptFailures = Self.check(corrupt)
    XCTAssertEqual(corruptFailures.count, 1)
    XCTAssertTrue(
      corruptFailures[0].hasPrefix("corrupt.trace: not a valid trace, not replayed")
        && corruptFailures[0].contains("checksumMismatch"), "\(corruptFailures)")
  }
}
