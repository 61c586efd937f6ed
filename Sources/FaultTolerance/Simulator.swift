/// One policy's run of the simulated job.
public struct SimulationResult: Equatable {
  public var policy: String
  /// False when the job could not finish (no node left with room, and no recovery to come).
  public var completed: Bool
  /// Wall time from the job's start to its end (or to when it was given up).
  public var completionSeconds: Double
  /// Work done and then lost to failures (rolled back to the last checkpoint).
  public var workLostSeconds: Double
  /// Live migrations that completed, and those a failure cut off.
  public var migrations: Int
  public var failedMigrations: Int
  /// Coordinated checkpoints of the whole job that were started.
  public var checkpoints: Int
  /// Failures of a node that held one of the job's VMs.
  public var failuresHit: Int
  public var restarts: Int
  /// The job's total pause for migrations' stop-and-copy.
  public var downtimeSeconds: Double

  public static let csvHeader =
    "policy,completed,completion_hours,work_lost_hours,migrations,failed_migrations,checkpoints,failures_hit,restarts,migration_downtime_seconds"

  public var csvRow: String {
    func number(_ value: Double) -> String {
      let text = String(value)
      return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
    return [
      policy, completed ? "yes" : "no", number(completionSeconds / 3600),
      number(workLostSeconds / 3600), "\(migrations)", "\(failedMigrations)", "\(checkpoints)",
      "\(failuresHit)", "\(restarts)", number(downtimeSeconds),
    ].joined(separator: ",")
  }
}

/// A discrete-event simulation of one job under one policy (docs/fault-tolerance.md,
/// "Simulator"). Time jumps from event to event: the trace's bursts, failures and
/// recoveries; the policy's polls; the end of a migration, checkpoint or restart; the
/// job's end. The job progresses at one second of work per second while it runs and no
/// migration's stop-and-copy holds it.
public struct Simulator {
  public let setup: SimulationSetup
  public let trace: FaultTrace

  public init(setup: SimulationSetup, trace: FaultTrace) throws(FaultToleranceError) {
    if let event = trace.events.first(where: { $0.node >= setup.nodes }) {
      throw FaultToleranceError(
        "the trace names node\(event.node), but the simulated cluster has node0..node\(setup.nodes - 1) (--nodes \(setup.nodes))"
      )
    }
    self.setup = setup
    self.trace = trace
  }

  public func run(_ policy: FaultTolerancePolicy) -> SimulationResult {
    var run = SimulationRun(setup: setup, events: trace.events, policy: policy)
    return run.execute()
  }
}

/// The state of one simulated run.
struct SimulationRun {
  enum Phase: Equatable {
    case running
    /// A coordinated checkpoint until `end`, of `progress` seconds of work.
    case checkpointing(end: Double, progress: Double)
    /// Restoring every VM from the last checkpoint until `end`.
    case restarting(end: Double)
    /// A failed node's VMs have nowhere to go until a node recovers.
    case waiting
    /// A failure hit the job; nothing notices it before the next poll, as the daemon (or
    /// an operator's loop) sees a dead node only when it asks.
    case down
  }

  struct Migration {
    var vm: Int
    var from: Int
    var to: Int
    var end: Double
  }

  let setup: SimulationSetup
  let events: [FaultTrace.Event]
  let policy: FaultTolerancePolicy
  let vmNames: [String]
  let nodeNames: [String]

  var time = 0.0
  var nextEvent = 0
  var nextPoll: Double
  var phase = Phase.running
  var progress = 0.0
  var saved = 0.0
  /// A migration's stop-and-copy holds the job until then.
  var heldUntil = 0.0
  var up: [Bool]
  var corrected: [[Int: UInt64]]
  /// Bursts of the last minute, for the node's own degraded rule (3 in one bank in 60 s).
  var recentBursts: [[(time: Double, bank: Int, count: UInt64)]]
  /// The node of each VM; nil while it has none (its node failed, no room yet).
  var placement: [Int?]
  var migrations: [Migration] = []
  /// A node sends one migration at a time, as the daemon runs them one after another.
  var sourceBusyUntil: [Double]
  var result: SimulationResult

  init(setup: SimulationSetup, events: [FaultTrace.Event], policy: FaultTolerancePolicy) {
    self.setup = setup
    self.events = events
    self.policy = policy
    vmNames = (0..<setup.vms).map { "vm\($0)" }
    nodeNames = (0..<setup.nodes).map { "node\($0)" }
    up = Array(repeating: true, count: setup.nodes)
    corrected = Array(repeating: [:], count: setup.nodes)
    recentBursts = Array(repeating: [], count: setup.nodes)
    placement = (0..<setup.vms).map { $0 % setup.nodes }
    sourceBusyUntil = Array(repeating: 0, count: setup.nodes)
    nextPoll = setup.pollOffsetSeconds
    result = SimulationResult(
      policy: policy.name, completed: false, completionSeconds: 0, workLostSeconds: 0,
      migrations: 0, failedMigrations: 0, checkpoints: 0, failuresHit: 0, restarts: 0,
      downtimeSeconds: 0)
  }

  /// What can happen next, in the order that wins a tie.
  enum Next {
    case done, phaseEnd
    case migrationEnd(Int)
    case traceEvent, poll
  }

  mutating func execute() -> SimulationResult {
    let lastEvent = events.last?.seconds ?? 0
    // Past this the run is given up: a job that slow is not completing in any useful sense.
    let limit = lastEvent + 100 * setup.jobSeconds
    while true {
      var candidates: [(Double, Next)] = []
      if phase == .running {
        candidates.append((max(time, heldUntil) + setup.jobSeconds - progress, .done))
      }
      switch phase {
      case .checkpointing(let end, _), .restarting(let end): candidates.append((end, .phaseEnd))
      default: break
      }
      if let (index, migration) = migrations.enumerated().min(by: {
        $0.element.end < $1.element.end
      }) {
        candidates.append((migration.end, .migrationEnd(index)))
      }
      if nextEvent < events.count { candidates.append((events[nextEvent].seconds, .traceEvent)) }
      // Nothing can change a job that waits for room once the trace is over.
      if phase == .waiting && nextEvent == events.count && time > lastEvent + 2 * setup.pollSeconds
      {
        break
      }
      candidates.append((nextPoll, .poll))
      // min(by:) keeps the first of equal times: the order above.
      let (when, what) = candidates.min { $0.0 < $1.0 }!
      if when > limit { break }
      advance(to: when)
      switch what {
      case .done:
        result.completed = true
        result.completionSeconds = time
        return result
      case .phaseEnd: endPhase()
      case .migrationEnd(let index): finishMigration(migrations.remove(at: index))
      case .traceEvent:
        let event = events[nextEvent]
        nextEvent += 1
        handle(event)
      case .poll:
        poll()
        nextPoll += setup.pollSeconds
      }
    }
    result.completionSeconds = time
    return result
  }

  mutating func advance(to next: Double) {
    if phase == .running {
      progress = min(setup.jobSeconds, progress + max(0, next - max(time, heldUntil)))
    }
    time = max(time, next)
  }

  mutating func endPhase() {
    switch phase {
    case .checkpointing(_, let progressAtStart):
      saved = progressAtStart
    case .restarting:
      result.restarts += 1
    default: break
    }
    phase = .running
    heldUntil = max(heldUntil, time)
  }

  mutating func finishMigration(_ migration: Migration) {
    placement[migration.vm] = migration.to
    heldUntil = max(heldUntil, time) + setup.downtimeSeconds
    result.downtimeSeconds += setup.downtimeSeconds
    result.migrations += 1
  }

  mutating func handle(_ event: FaultTrace.Event) {
    let node = event.node
    switch event.kind {
    case .burst:
      corrected[node][event.bank, default: 0] += event.count
      recentBursts[node].append((event.seconds, event.bank, event.count))
    case .recovery:
      up[node] = true
      if phase == .waiting { restart() }
    case .failure:
      guard up[node] else { return }
      up[node] = false
      let before = migrations.count
      migrations.removeAll { $0.to == node }
      result.failedMigrations += before - migrations.count
      guard placement.contains(node) else { return }
      // The job loses everything since its last checkpoint (an unfinished checkpoint
      // too), and every VM goes back to it.
      result.failuresHit += 1
      result.workLostSeconds += progress - saved
      progress = saved
      result.failedMigrations += migrations.count
      migrations.removeAll()
      for index in sourceBusyUntil.indices { sourceBusyUntil[index] = time }
      heldUntil = time
      for vm in placement.indices where placement[vm] == node { placement[vm] = nil }
      // The restart begins when the next poll notices the failure (a failure at a poll's
      // own time is noticed by it: trace events come first).
      phase = .down
    }
  }

  /// Finds a node for each VM without one (healthy nodes with room, as policies choose
  /// them), then restores the whole job; or waits for a recovery.
  mutating func restart() {
    let homeless = placement.indices.filter { placement[$0] == nil }
    let snapshot = self.snapshot()
    let targets = TargetSelection.targets(
      for: homeless.map { _ in
        VMPlacement(name: "", memoryBytes: setup.vmMemoryBytes, vcpus: setup.vmVCPUs)
      }, in: snapshot, excluding: [])
    guard targets.allSatisfy({ $0 != nil }) else {
      phase = .waiting
      return
    }
    for (vm, target) in zip(homeless, targets) { placement[vm] = Int(target!.dropFirst(4)) }
    // With no checkpoint taken yet the job starts anew: a create, not a restore.
    phase = .restarting(end: time + (saved > 0 ? setup.restartSeconds : setup.freshStartSeconds))
  }

  func snapshot() -> ClusterSnapshot {
    var vmsOn: [[VMPlacement]] = Array(repeating: [], count: setup.nodes)
    let moving = Set(migrations.map(\.vm))
    for (vm, node) in placement.enumerated() {
      guard let node else { continue }
      vmsOn[node].append(
        VMPlacement(
          name: vmNames[vm], memoryBytes: setup.vmMemoryBytes, vcpus: setup.vmVCPUs,
          migrating: moving.contains(vm)))
    }
    // An incoming VM holds its room on the target from the migration's start.
    for migration in migrations {
      vmsOn[migration.to].append(
        VMPlacement(
          name: vmNames[migration.vm], memoryBytes: setup.vmMemoryBytes, vcpus: setup.vmVCPUs,
          migrating: true))
    }
    let nodes = (0..<setup.nodes).map { node in
      var perBank: [Int: UInt64] = [:]
      for burst in recentBursts[node] where burst.time > time - 60 {
        perBank[burst.bank, default: 0] += burst.count
      }
      let condition: NodeCondition =
        !up[node] ? .dead : perBank.values.contains { $0 >= 3 } ? .degraded : .healthy
      let used = UInt64(vmsOn[node].count) * setup.vmMemoryBytes
      return NodeSnapshot(
        name: nodeNames[node], condition: condition, cpuCount: setup.nodeCPUs,
        totalMemory: setup.nodeMemoryBytes,
        freeMemory: setup.nodeMemoryBytes - min(used, setup.nodeMemoryBytes),
        correctedErrorsByBank: corrected[node], vms: up[node] ? vmsOn[node] : [])
    }
    return ClusterSnapshot(time: time, nodes: nodes)
  }

  mutating func poll() {
    for node in recentBursts.indices { recentBursts[node].removeAll { $0.time <= time - 60 } }
    if phase == .down {
      restart()
      return
    }
    if phase == .waiting {
      restart()
      if phase == .waiting { return }
    }
    let snapshot = self.snapshot()
    var room = Dictionary(
      uniqueKeysWithValues: snapshot.nodes.map { ($0.name, ($0.freeMemory, $0.freeCPUs)) })
    var checkpointTaken = false
    for action in policy.decide(snapshot) {
      switch action {
      case .checkpoint:
        guard phase == .running, !checkpointTaken else { continue }
        checkpointTaken = true
        result.checkpoints += 1
        let start = max(time, heldUntil)
        phase = .checkpointing(end: start + setup.checkpointSeconds, progress: progress)
      case .migrate(let vmName, let fromName, let toName, _):
        guard phase != .waiting, !isRestarting,
          let vm = vmNames.firstIndex(of: vmName),
          let from = nodeNames.firstIndex(of: fromName), let to = nodeNames.firstIndex(of: toName),
          placement[vm] == from, from != to, up[to], up[from],
          !migrations.contains(where: { $0.vm == vm }),
          let free = room[toName], free.0 >= setup.vmMemoryBytes, free.1 >= setup.vmVCPUs
        else { continue }
        room[toName] = (free.0 - setup.vmMemoryBytes, free.1 - setup.vmVCPUs)
        let start = max(time, sourceBusyUntil[from])
        sourceBusyUntil[from] = start + setup.migrationSeconds
        migrations.append(
          Migration(vm: vm, from: from, to: to, end: start + setup.migrationSeconds))
      }
    }
  }

  var isRestarting: Bool {
    if case .restarting = phase { return true }
    return false
  }
}
