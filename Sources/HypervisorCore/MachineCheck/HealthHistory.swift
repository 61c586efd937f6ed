/// What happened to a node's health, kept in a bounded history (issue 15, "Node health").
public struct HealthEvent: Equatable {
  public enum Kind: UInt8, Equatable, CaseIterable {
    /// A bank reported corrected errors: subject = CPU << 8 | bank, value = errors.
    case correctedMachineCheck = 1
    /// A bank reported an error the processor did not correct: subject as above, value
    /// = the raw MCi_STATUS.
    case uncorrectedMachineCheck = 2
    /// The node became degraded: value = its number of problems.
    case becameDegraded = 3
    /// The node became healthy again.
    case becameHealthy = 4
  }

  public var millisecondsSinceBoot: UInt64
  public var kind: Kind
  public var subject: UInt16
  public var value: UInt64

  public init(millisecondsSinceBoot: UInt64, kind: Kind, subject: UInt16 = 0, value: UInt64 = 0) {
    self.millisecondsSinceBoot = millisecondsSinceBoot
    self.kind = kind
    self.subject = subject
    self.value = value
  }

  public init(_ record: MachineCheckRecord) {
    self.init(
      millisecondsSinceBoot: record.millisecondsSinceBoot,
      kind: record.status.uncorrected ? .uncorrectedMachineCheck : .correctedMachineCheck,
      subject: UInt16(truncatingIfNeeded: record.cpu << 8 | (record.bank & 0xFF)),
      value: record.status.uncorrected ? record.status.raw : record.status.correctedErrors)
  }

  public var cpu: Int { Int(subject >> 8) }
  public var bank: Int { Int(subject & 0xFF) }
}

/// The node's health transitions, bounded: the oldest go first.
public struct HealthHistory {
  public let capacity: Int
  public private(set) var events: [HealthEvent] = []
  private(set) var wasDegraded = false

  public init(capacity: Int) { self.capacity = max(capacity, 1) }

  public mutating func append(_ event: HealthEvent) {
    events.append(event)
    if events.count > capacity { events.removeFirst(events.count - capacity) }
  }

  /// Records a transition when health changed since the last evaluation.
  public mutating func observe(problemCount: Int, at milliseconds: UInt64) {
    let degraded = problemCount > 0
    guard degraded != wasDegraded else { return }
    wasDegraded = degraded
    append(
      HealthEvent(
        millisecondsSinceBoot: milliseconds, kind: degraded ? .becameDegraded : .becameHealthy,
        value: UInt64(problemCount)))
  }

  /// This history's transitions merged with machine-check events (each CPU's recent
  /// errors), by time, the newest `limit`.
  public func merged(with records: [MachineCheckRecord], limit: Int) -> [HealthEvent] {
    let all = (events + records.map(HealthEvent.init)).enumerated().sorted {
      ($0.element.millisecondsSinceBoot, $0.offset) < ($1.element.millisecondsSinceBoot, $1.offset)
    }.map { $0.element }
    return Array(all.suffix(max(limit, 0)))
  }
}
