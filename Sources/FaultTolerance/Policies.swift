import Foundation

/// The baseline: never acts. What a job without fault tolerance gets.
public final class DoNothingPolicy: FaultTolerancePolicy {
  public let name = "none"
  public init() {}
  public func decide(_ snapshot: ClusterSnapshot) -> [FaultToleranceAction] { [] }
}

/// Predicts a node's failure when one MCA bank has logged `threshold` corrected errors
/// within the last `windowSeconds`, and evacuates it. The classic precursor rule: a lone
/// corrected error is a particle strike, several in a bank are a part wearing out (the
/// node's own degraded rule is 3 in 60 s, docs/node-health.md). Other reasons to be
/// degraded (a stalled CPU, low memory) predict no hardware failure and are left alone.
public final class ThresholdPolicy: FaultTolerancePolicy {
  public let name = "threshold"
  public let threshold: UInt64
  public let windowSeconds: Double
  /// Per node and bank: (time, cumulative count) samples within the window, oldest first.
  private var samples: [String: [Int: [(time: Double, count: UInt64)]]] = [:]

  public init(threshold: UInt64 = 3, windowSeconds: Double = 3600) {
    self.threshold = threshold
    self.windowSeconds = windowSeconds
  }

  public func decide(_ snapshot: ClusterSnapshot) -> [FaultToleranceAction] {
    var suspects: [String: String] = [:]
    for node in snapshot.nodes {
      var banks = samples[node.name] ?? [:]
      for (bank, count) in node.correctedErrorsByBank.sorted(by: { $0.key < $1.key }) {
        var history = banks[bank] ?? []
        history.append((snapshot.time, count))
        // Keep the newest sample at or before the window's start: the count then is the
        // reference the window's errors are measured from.
        let start = snapshot.time - windowSeconds
        while history.count > 1 && history[1].time <= start { history.removeFirst() }
        let reference = history[0].time <= start ? history[0].count : 0
        let recent = count - min(count, reference)
        if recent >= threshold && suspects[node.name] == nil {
          suspects[node.name] =
            "\(recent) corrected errors in bank \(bank) within \(Int(windowSeconds)) s, threshold \(threshold)"
        }
        banks[bank] = history
      }
      samples[node.name] = banks
    }
    return TargetSelection.evacuate(suspects, in: snapshot)
  }
}

/// Predicts a node's failure when the rate of corrected errors in one bank, smoothed by
/// an exponentially weighted moving average with time constant `timeConstantSeconds`,
/// reaches `errorsPerHour`. Unlike the threshold, old errors fade continuously, and a slow
/// trickle (wear the node lives with) never adds up to a prediction. The weight of a new
/// observation after Δt seconds is 1 - exp(-Δt/τ), so uneven polls weigh correctly.
public final class RatePolicy: FaultTolerancePolicy {
  public let name = "rate"
  public let errorsPerHour: Double
  public let timeConstantSeconds: Double
  private var last: [String: [Int: (time: Double, count: UInt64, rate: Double)]] = [:]

  public init(errorsPerHour: Double = 10, timeConstantSeconds: Double = 600) {
    self.errorsPerHour = errorsPerHour
    self.timeConstantSeconds = timeConstantSeconds
  }

  /// The smoothed rate (errors per hour) of `bank` on `node` after the last decision.
  public func rate(node: String, bank: Int) -> Double { last[node]?[bank]?.rate ?? 0 }

  public func decide(_ snapshot: ClusterSnapshot) -> [FaultToleranceAction] {
    var suspects: [String: String] = [:]
    for node in snapshot.nodes {
      var banks = last[node.name] ?? [:]
      for (bank, count) in node.correctedErrorsByBank.sorted(by: { $0.key < $1.key }) {
        // A bank seen for the first time: its count so far is its first observation,
        // spread over one time constant (no earlier sample to measure from).
        let previous = banks[bank] ?? (snapshot.time - timeConstantSeconds, 0, 0)
        let elapsed = max(snapshot.time - previous.time, 1e-3)
        let instant = Double(count - min(count, previous.count)) / elapsed * 3600
        let weight = 1 - exp(-elapsed / timeConstantSeconds)
        let rate = weight * instant + (1 - weight) * previous.rate
        banks[bank] = (snapshot.time, count, rate)
        if rate >= errorsPerHour && suspects[node.name] == nil {
          suspects[node.name] = String(
            format: "%.1f corrected errors/h in bank %d (EWMA, tau %.0f s), limit %.1f/h", rate,
            bank, timeConstantSeconds, errorsPerHour)
        }
      }
      last[node.name] = banks
    }
    return TargetSelection.evacuate(suspects, in: snapshot)
  }
}

/// Reactive fault tolerance: checkpoint every VM every `periodSeconds`, whatever the nodes
/// say; a failure then costs the work since the last checkpoint plus a restart. Young's
/// rule gives the period that minimises the expected loss: √(2 · checkpoint time · MTBF).
public final class PeriodicCheckpointPolicy: FaultTolerancePolicy {
  public let name = "periodic-checkpoint"
  public let periodSeconds: Double
  private var lastCheckpoint: Double?

  public init(periodSeconds: Double = 3600) { self.periodSeconds = periodSeconds }

  public func decide(_ snapshot: ClusterSnapshot) -> [FaultToleranceAction] {
    guard let last = lastCheckpoint else {
      lastCheckpoint = snapshot.time
      return []
    }
    // A small tolerance: a poll that lands a hair before the period still counts.
    guard snapshot.time - last >= periodSeconds - 1e-6 else { return [] }
    lastCheckpoint = snapshot.time
    let reason = "every \(Int(periodSeconds)) s"
    return snapshot.nodes.filter { $0.condition != .dead }.flatMap { node in
      node.vms.map { FaultToleranceAction.checkpoint(vm: $0.name, node: node.name, reason: reason) }
    }
  }
}

/// Several policies at once ("rate+periodic-checkpoint"): each decides, their actions are
/// joined, and a VM gets at most one action of each kind (the first policy's).
public final class CombinedPolicy: FaultTolerancePolicy {
  public let parts: [FaultTolerancePolicy]
  public var name: String { parts.map(\.name).joined(separator: "+") }

  public init(_ parts: [FaultTolerancePolicy]) { self.parts = parts }

  public func decide(_ snapshot: ClusterSnapshot) -> [FaultToleranceAction] {
    var migrated = Set<String>()
    var checkpointed = Set<String>()
    var actions: [FaultToleranceAction] = []
    for part in parts {
      for action in part.decide(snapshot) {
        switch action {
        case .migrate(let vm, _, _, _):
          if migrated.insert(vm).inserted { actions.append(action) }
        case .checkpoint(let vm, _, _):
          if checkpointed.insert(vm).inserted { actions.append(action) }
        }
      }
    }
    return actions
  }
}
