import Foundation

/// What fault tolerance costs, by VM memory size (docs/fault-tolerance.md, "Costs file"):
///
///     # comment
///     placeholder                 # the values are guesses, not measurements
///     migration   512MiB  6.0     # total time of a live migration, seconds
///     downtime    512MiB  0.3     # the stop-and-copy pause within it
///     checkpoint  512MiB  5.0     # writing a checkpoint (the VM paused meanwhile)
///     restore     512MiB  5.0     # reading one back on another node
///     create      512MiB  2.0     # optional: starting anew when nothing was saved (default: restore)
///     restart     60              # relaunching the job once a poll noticed the failure
///
/// Several sizes per kind are joined by straight lines (and extended past the ends by the
/// nearest segment's slope, never below 0); one size scales in proportion to memory.
public struct CostModel: Equatable {
  public enum Kind: String, CaseIterable {
    case migration, downtime, checkpoint, restore
    /// A fresh start (`peregrine create`) of a VM that has no checkpoint: optional, the
    /// restore's cost when a file has none.
    case create
  }

  /// Per kind: (bytes, seconds), by size.
  public var points: [Kind: [(bytes: UInt64, seconds: Double)]]
  public var restartSeconds: Double
  /// A file's `placeholder` line: its values are guesses, and reports say so.
  public var isPlaceholder: Bool

  public static func == (a: CostModel, b: CostModel) -> Bool {
    a.restartSeconds == b.restartSeconds && a.isPlaceholder == b.isPlaceholder
      && Kind.allCases.allSatisfy { kind in
        (a.points[kind] ?? []).map(\.bytes) == (b.points[kind] ?? []).map(\.bytes)
          && (a.points[kind] ?? []).map(\.seconds) == (b.points[kind] ?? []).map(\.seconds)
      }
  }

  /// The built-in costs: `make bench` (scripts/bench-migration.py) on 2026-12-02, a
  /// 128 MiB Linux guest idle on two QEMU TCG nodes of one shared host: live migration
  /// 54.7 s with 0.23 s of downtime, a checkpoint that paused it 18.1 s, a restore of
  /// 11.0 s (docs/migration.md, "Benchmark"). One size, so other sizes scale in proportion
  /// to memory. `restart` is assumed (the job's relaunch by its scheduler), not measured.
  /// traces/costs.txt holds the same; `make bench` writes build/bench/costs.txt afresh.
  public static let builtIn = try! CostModel.parse(
    """
    migration   128MiB  54.7
    downtime    128MiB  0.23
    checkpoint  128MiB  18.1
    restore     128MiB  11.0
    restart     60
    """)

  public func seconds(_ kind: Kind, memoryBytes: UInt64) -> Double {
    if kind == .create && points[.create] == nil {
      return seconds(.restore, memoryBytes: memoryBytes)
    }
    let table = points[kind] ?? []
    guard let first = table.first else { return 0 }
    let x = Double(memoryBytes)
    if table.count == 1 { return first.seconds * x / Double(first.bytes) }
    var lower = table[0]
    var upper = table[1]
    for index in 1..<table.count {
      lower = table[index - 1]
      upper = table[index]
      if x <= Double(upper.bytes) { break }
    }
    let slope = (upper.seconds - lower.seconds) / (Double(upper.bytes) - Double(lower.bytes))
    return max(0, lower.seconds + slope * (x - Double(lower.bytes)))
  }

  public static func parse(_ text: String) throws(FaultToleranceError) -> CostModel {
    var points: [Kind: [(bytes: UInt64, seconds: Double)]] = [:]
    var restart: Double?
    var placeholder = false
    for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(
        String.init)
      guard let key = fields.first else { continue }
      func fail(_ message: String) -> FaultToleranceError {
        FaultToleranceError("line \(index + 1): \(message)")
      }
      switch key {
      case "placeholder":
        guard fields.count == 1 else { throw fail("'placeholder' takes nothing after it") }
        placeholder = true
      case "restart":
        guard fields.count == 2, let value = seconds(fields[1]) else {
          throw fail("expected 'restart SECONDS'")
        }
        guard restart == nil else { throw fail("a second 'restart' line") }
        restart = value
      default:
        guard let kind = Kind(rawValue: key) else {
          throw fail(
            "unknown cost '\(key)' (migration, downtime, checkpoint, restore, create, restart, placeholder)"
          )
        }
        guard fields.count == 3 else { throw fail("expected '\(key) SIZE SECONDS'") }
        guard let bytes = size(fields[1]), bytes > 0 else {
          throw fail("'\(fields[1])' is not a memory size (e.g. 512MiB, 2GiB)")
        }
        guard let value = seconds(fields[2]) else {
          throw fail("'\(fields[2])' is not a number of seconds")
        }
        if points[kind, default: []].contains(where: { $0.bytes == bytes }) {
          throw fail("a second '\(key)' for \(fields[1])")
        }
        points[kind, default: []].append((bytes, value))
      }
    }
    for kind in Kind.allCases where points[kind] == nil && kind != .create {
      throw FaultToleranceError("no '\(kind.rawValue) SIZE SECONDS' line")
    }
    guard let restart else { throw FaultToleranceError("no 'restart SECONDS' line") }
    for kind in Kind.allCases { points[kind]?.sort { $0.bytes < $1.bytes } }
    return CostModel(points: points, restartSeconds: restart, isPlaceholder: placeholder)
  }

  private static func seconds(_ text: String) -> Double? {
    let number = text.hasSuffix("s") ? String(text.dropLast()) : text
    guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
    return value
  }

  /// Bytes, or a number with KiB, MiB, GiB (K, M, G too).
  public static func size(_ text: String) -> UInt64? {
    let units: [(String, UInt64)] = [
      ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20),
      ("G", 1 << 30),
    ]
    for (suffix, factor) in units where text.hasSuffix(suffix) {
      guard let value = Double(text.dropLast(suffix.count)), value.isFinite, value > 0,
        value * Double(factor) < 1e18
      else { return nil }
      return UInt64(value * Double(factor))
    }
    return UInt64(text)
  }
}
