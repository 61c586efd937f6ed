/// One node's answer to one poll of the daemon, as the node gives it: counts since its
/// boot and its recent history. `CorrectedErrorLedger` turns these into a snapshot's
/// never-decreasing counts.
public struct NodeReading: Equatable {
  public struct CorrectedEvent: Equatable {
    public var millisecondsSinceBoot: UInt64
    public var cpu: Int
    public var bank: Int
    public var count: UInt64
    public init(millisecondsSinceBoot: UInt64, cpu: Int, bank: Int, count: UInt64) {
      self.millisecondsSinceBoot = millisecondsSinceBoot
      self.cpu = cpu
      self.bank = bank
      self.count = count
    }
  }

  public var name: String
  /// False: the node did not answer (dead); the rest is then ignored.
  public var answered: Bool
  public var degraded: Bool
  public var cpuCount: Int
  public var totalMemory: UInt64
  public var freeMemory: UInt64
  public var uptimeMilliseconds: UInt64
  public var correctedSinceBoot: UInt64
  public var uncorrectedSinceBoot: UInt64
  /// The corrected-error events of the node's history (at most 16, oldest first).
  public var correctedEvents: [CorrectedEvent]
  public var vms: [VMPlacement]

  public init(
    name: String, answered: Bool = true, degraded: Bool = false, cpuCount: Int = 0,
    totalMemory: UInt64 = 0, freeMemory: UInt64 = 0, uptimeMilliseconds: UInt64 = 0,
    correctedSinceBoot: UInt64 = 0, uncorrectedSinceBoot: UInt64 = 0,
    correctedEvents: [CorrectedEvent] = [], vms: [VMPlacement] = []
  ) {
    self.name = name
    self.answered = answered
    self.degraded = degraded
    self.cpuCount = cpuCount
    self.totalMemory = totalMemory
    self.freeMemory = freeMemory
    self.uptimeMilliseconds = uptimeMilliseconds
    self.correctedSinceBoot = correctedSinceBoot
    self.uncorrectedSinceBoot = uncorrectedSinceBoot
    self.correctedEvents = correctedEvents
    self.vms = vms
  }

  public static func dead(_ name: String) -> NodeReading {
    NodeReading(name: name, answered: false)
  }
}

/// Per node: corrected errors per bank since the watch began, from successive readings.
/// New history events (newer than the last one counted) are added to their bank; when the
/// node's total grew by more than they explain (the 16-entry history overflowed between two
/// polls), the rest goes to `NodeSnapshot.unattributedBank`. A node whose uptime went
/// backwards rebooted: its counts since boot start again, the ledger's carry on. Errors the
/// node had before the first poll count only as far as its history shows them.
public struct CorrectedErrorLedger {
  private struct NodeState {
    var byBank: [Int: UInt64] = [:]
    var lastEventMilliseconds: UInt64?
    var lastTotal: UInt64 = 0
    var lastUptime: UInt64 = 0
    var uncorrected: UInt64 = 0
    var lastUncorrectedSinceBoot: UInt64 = 0
    var last: NodeSnapshot?
  }
  private var nodes: [String: NodeState] = [:]

  public init() {}

  public mutating func snapshot(of readings: [NodeReading], at time: Double) -> ClusterSnapshot {
    ClusterSnapshot(time: time, nodes: readings.map { record($0) })
  }

  private mutating func record(_ reading: NodeReading) -> NodeSnapshot {
    var state = nodes[reading.name] ?? NodeState()
    guard reading.answered else {
      // What it last held is what a failure would take down.
      var snapshot =
        state.last
        ?? NodeSnapshot(
          name: reading.name, condition: .dead, cpuCount: 0, totalMemory: 0, freeMemory: 0)
      snapshot.condition = .dead
      snapshot.correctedErrorsByBank = state.byBank
      nodes[reading.name] = state
      return snapshot
    }
    let first = state.last == nil
    let rebooted = !first && reading.uptimeMilliseconds < state.lastUptime
    if rebooted {
      state.lastEventMilliseconds = nil
      state.lastTotal = 0
      state.lastUncorrectedSinceBoot = 0
    }
    var attributed: UInt64 = 0
    for event in reading.correctedEvents {
      if let last = state.lastEventMilliseconds, event.millisecondsSinceBoot <= last { continue }
      state.byBank[event.bank, default: 0] += event.count
      attributed += event.count
    }
    if let newest = reading.correctedEvents.last?.millisecondsSinceBoot {
      state.lastEventMilliseconds = max(state.lastEventMilliseconds ?? 0, newest)
    }
    let grown = reading.correctedSinceBoot - min(reading.correctedSinceBoot, state.lastTotal)
    if !first && grown > attributed {
      state.byBank[NodeSnapshot.unattributedBank, default: 0] += grown - attributed
    }
    state.lastTotal = reading.correctedSinceBoot
    state.lastUptime = reading.uptimeMilliseconds
    state.uncorrected +=
      reading.uncorrectedSinceBoot
      - min(reading.uncorrectedSinceBoot, state.lastUncorrectedSinceBoot)
    state.lastUncorrectedSinceBoot = reading.uncorrectedSinceBoot
    let snapshot = NodeSnapshot(
      name: reading.name, condition: reading.degraded ? .degraded : .healthy,
      cpuCount: reading.cpuCount, totalMemory: reading.totalMemory,
      freeMemory: reading.freeMemory, correctedErrorsByBank: state.byBank,
      uncorrectedErrors: state.uncorrected, vms: reading.vms)
    state.last = snapshot
    nodes[reading.name] = state
    return snapshot
  }
}
