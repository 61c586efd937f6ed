import Foundation

/// A failure trace (docs/fault-tolerance.md, "Trace format"): one event per line,
///
///     TIME  NODE  KIND  [count=N] [bank=B]
///
/// TIME in hours from the trace's start (or with a unit: 90s, 15m, 1.5h, 2d); NODE is
/// `nodeK` or `K` (K from 0); KIND is `burst` (corrected errors: count, default 1, in bank,
/// default 0), `failure` (the node stops; its VMs are lost) or `recovery` (repaired, back in
/// service). '#' starts a comment; blank lines are ignored. Events need not be in order.
public struct FaultTrace: Equatable {
  public enum Kind: String, Equatable, CaseIterable {
    case burst, failure, recovery
  }

  public struct Event: Equatable {
    public var seconds: Double
    public var node: Int
    public var kind: Kind
    public var count: UInt64
    public var bank: Int

    public init(seconds: Double, node: Int, kind: Kind, count: UInt64 = 1, bank: Int = 0) {
      self.seconds = seconds
      self.node = node
      self.kind = kind
      self.count = count
      self.bank = bank
    }
  }

  /// In time order (a stable sort of the file's order).
  public var events: [Event]
  /// The number of nodes the trace speaks of: its highest node index + 1.
  public var nodeCount: Int { (events.map(\.node).max() ?? -1) + 1 }
  public var failures: Int { events.filter { $0.kind == .failure }.count }

  public init(events: [Event]) {
    self.events = events.enumerated().sorted {
      $0.element.seconds != $1.element.seconds
        ? $0.element.seconds < $1.element.seconds : $0.offset < $1.offset
    }.map(\.element)
  }

  /// Parses a whole trace; the first bad line ends it with "line N: what is wrong".
  public static func parse(_ text: String) throws(FaultToleranceError) -> FaultTrace {
    var events: [Event] = []
    for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
      if fields.isEmpty { continue }
      do {
        events.append(try parseEvent(fields.map(String.init)))
      } catch {
        throw FaultToleranceError("line \(index + 1): \(error.message)")
      }
    }
    return FaultTrace(events: events)
  }

  private static func parseEvent(_ fields: [String]) throws(FaultToleranceError) -> Event {
    guard fields.count >= 3 else {
      throw FaultToleranceError(
        "expected 'TIME NODE KIND [count=N] [bank=B]', found \(fields.count) field\(fields.count == 1 ? "" : "s")"
      )
    }
    let seconds = try parseTime(fields[0])
    let node = try parseNode(fields[1])
    guard let kind = Kind(rawValue: fields[2].lowercased()) else {
      throw FaultToleranceError(
        "unknown event kind '\(fields[2])' (burst, failure or recovery)")
    }
    var event = Event(seconds: seconds, node: node, kind: kind)
    for field in fields.dropFirst(3) {
      let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
      guard kind == .burst, pair.count == 2, pair[0] == "count" || pair[0] == "bank" else {
        throw FaultToleranceError(
          kind == .burst
            ? "unexpected '\(field)' (a burst takes count=N and bank=B)"
            : "unexpected '\(field)' (a \(kind.rawValue) takes nothing after its kind)")
      }
      if pair[0] == "count" {
        guard let count = UInt64(pair[1]), count > 0 else {
          throw FaultToleranceError("count must be a whole number ≥ 1, not '\(pair[1])'")
        }
        event.count = count
      } else {
        guard let bank = Int(pair[1]), (0...255).contains(bank) else {
          throw FaultToleranceError("bank must be a number from 0 to 255, not '\(pair[1])'")
        }
        event.bank = bank
      }
    }
    return event
  }

  /// Hours, or a number with a unit s, m, h or d.
  public static func parseTime(_ text: String) throws(FaultToleranceError) -> Double {
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    var number = Substring(text)
    var factor = 3600.0
    if let last = text.last, let unit = units[last] {
      number = number.dropLast()
      factor = unit
    }
    guard let value = Double(number), value.isFinite, value >= 0 else {
      throw FaultToleranceError(
        "'\(text)' is not a time (hours, or a number with s, m, h or d; not negative)")
    }
    return value * factor
  }

  private static func parseNode(_ text: String) throws(FaultToleranceError) -> Int {
    let digits = text.hasPrefix("node") ? String(text.dropFirst(4)) : text
    guard let node = Int(digits), node >= 0, node < 1_000_000 else {
      throw FaultToleranceError("'\(text)' is not a node (nodeK or K, K from 0)")
    }
    return node
  }

  /// The trace in its own format, with `header` lines as comments first.
  public func text(header: [String] = []) -> String {
    var out = header.map { "# \($0)\n" }.joined()
    out += "# time(h)      node     kind      details\n"
    for event in events {
      let time = String(format: "%.6f", event.seconds / 3600)
      let node = "node\(event.node)"
      var line =
        time.padding(toLength: 14, withPad: " ", startingAt: 0) + " "
        + node.padding(toLength: 8, withPad: " ", startingAt: 0) + " " + event.kind.rawValue
      if event.kind == .burst {
        line =
          line.padding(toLength: 34, withPad: " ", startingAt: 0)
          + "count=\(event.count) bank=\(event.bank)"
      }
      out += line + "\n"
    }
    return out
  }
}
