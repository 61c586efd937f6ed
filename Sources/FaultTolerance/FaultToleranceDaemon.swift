/// Where the daemon's readings come from: every node of the cluster, once per poll. The
/// CLI's asks each node (node info, VM list); tests use a fake.
public protocol NodeSource {
  func poll() -> [NodeReading]
}

/// How the daemon carries out what a policy decided. The CLI's implementation is where
/// `peregrine migrate` and `peregrine checkpoint` are called; an implementation that cannot
/// do one throws `FaultToleranceActionError.notAvailable`.
public protocol FaultToleranceActions {
  func migrate(vm: String, from: String, to: String) throws
  /// Returns where the checkpoint went.
  func checkpoint(vm: String, node: String) throws -> String
}

public enum FaultToleranceActionError: Error, Equatable, CustomStringConvertible {
  /// This build has no such operation (yet): what is missing, in words.
  case notAvailable(String)
  /// The operation ran and failed: why.
  case failed(String)

  public var description: String {
    switch self {
    case .notAvailable(let what): "\(what) is not available in this build"
    case .failed(let why): why
    }
  }
}

/// What became of one action.
public struct ActionOutcome: Equatable {
  public enum Result: Equatable {
    case done(detail: String)
    case notAvailable(String)
    case failed(String)
    /// The daemon did not try: the policy named a VM or node the snapshot does not have,
    /// or a target without room.
    case refused(String)
  }
  public var action: FaultToleranceAction
  public var result: Result

  public var succeeded: Bool {
    if case .done = result { return true }
    return false
  }
}

/// One poll and what came of it.
public struct DaemonStep: Equatable {
  public var snapshot: ClusterSnapshot
  public var outcomes: [ActionOutcome]
}

/// The loop of `peregrine ft run`, one step at a time (the caller sleeps between steps):
/// poll every node, give the policy the snapshot, check each action against the snapshot
/// and carry it out. Actions run one after another, in the policy's order.
///
/// Back-off per VM: after an action on a VM fails (its migration refused as already under
/// way by another `peregrine`, a node that stopped answering, ...), the daemon leaves that
/// VM alone for `backoff` seconds, doubled after each further failure, so a policy that
/// asks again every poll does not re-issue a doomed migration every poll. An action that
/// succeeds ends the back-off. Actions run to completion inside `step`, so the daemon itself
/// never has two migrations of one VM under way.
public final class FaultToleranceDaemon {
  public let policy: FaultTolerancePolicy
  private let source: NodeSource
  private let actions: FaultToleranceActions
  private let backoff: Double
  private var ledger = CorrectedErrorLedger()
  /// VM name -> (seconds since start before which it is left alone, failures in a row).
  private var quiet: [String: (until: Double, failures: Int)] = [:]

  public init(
    policy: FaultTolerancePolicy, source: NodeSource, actions: FaultToleranceActions,
    backoff: Double = 60
  ) {
    self.policy = policy
    self.source = source
    self.actions = actions
    self.backoff = backoff
  }

  /// `time`: seconds since the daemon started.
  public func step(at time: Double) -> DaemonStep {
    let snapshot = ledger.snapshot(of: source.poll(), at: time)
    var room: [String: (memory: UInt64, cpus: Int)] = [:]
    for node in snapshot.nodes { room[node.name] = (node.freeMemory, node.freeCPUs) }
    var outcomes: [ActionOutcome] = []
    for action in policy.decide(snapshot) {
      if let held = quiet[action.vm], time < held.until {
        outcomes.append(
          ActionOutcome(
            action: action,
            result: .refused(
              "backing off: \(held.failures) failed action\(held.failures == 1 ? "" : "s") on \(action.vm) in a row; next try in \(Int((held.until - time).rounded(.up))) s"
            )))
        continue
      }
      let result = carryOut(action, snapshot, &room)
      switch result {
      case .done: quiet[action.vm] = nil
      case .failed, .notAvailable:
        let failures = (quiet[action.vm]?.failures ?? 0) + 1
        // Doubling stops at 2^10 times the base so the wait stays finite.
        let wait = backoff * Double(1 << min(failures - 1, 10))
        quiet[action.vm] = (time + wait, failures)
      case .refused: break
      }
      outcomes.append(ActionOutcome(action: action, result: result))
    }
    return DaemonStep(snapshot: snapshot, outcomes: outcomes)
  }

  private func carryOut(
    _ action: FaultToleranceAction, _ snapshot: ClusterSnapshot,
    _ room: inout [String: (memory: UInt64, cpus: Int)]
  ) -> ActionOutcome.Result {
    do {
      switch action {
      case .migrate(let vm, let from, let to, _):
        guard let source = snapshot.node(named: from),
          let placed = source.vms.first(where: { $0.name == vm })
        else { return .refused("node \(from) has no VM \(vm)") }
        guard let target = snapshot.node(named: to), target.condition == .healthy, to != from
        else { return .refused("\(to) is not a healthy node other than \(from)") }
        guard let free = room[to], free.memory >= placed.memoryBytes, free.cpus >= placed.vcpus
        else { return .refused("node \(to) has no room for \(vm)") }
        try actions.migrate(vm: vm, from: from, to: to)
        room[to] = (free.memory - placed.memoryBytes, free.cpus - placed.vcpus)
        return .done(detail: "\(vm) now runs on \(to)")
      case .checkpoint(let vm, let node, _):
        guard snapshot.node(named: node)?.vms.contains(where: { $0.name == vm }) == true else {
          return .refused("node \(node) has no VM \(vm)")
        }
        return .done(detail: "checkpoint in \(try actions.checkpoint(vm: vm, node: node))")
      }
    } catch let error as FaultToleranceActionError {
      if case .notAvailable = error { return .notAvailable(error.description) }
      return .failed(error.description)
    } catch {
      return .failed("\(error)")
    }
  }
}
