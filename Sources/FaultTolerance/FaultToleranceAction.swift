/// What a policy asks for. "Do nothing" is an empty list of actions.
public enum FaultToleranceAction: Equatable, CustomStringConvertible {
  /// Live-migrate `vm` (on node `from`) to node `to`: `peregrine migrate VM --to NODE`.
  case migrate(vm: String, from: String, to: String, reason: String)
  /// Checkpoint `vm` (on node `node`): `peregrine checkpoint VM FILE`. The simulator takes
  /// one coordinated checkpoint of the whole job when a policy asks for any of its VMs.
  case checkpoint(vm: String, node: String, reason: String)

  public var vm: String {
    switch self {
    case .migrate(let vm, _, _, _), .checkpoint(let vm, _, _): vm
    }
  }

  public var description: String {
    switch self {
    case .migrate(let vm, let from, let to, let reason):
      "migrate \(vm) from \(from) to \(to) (\(reason))"
    case .checkpoint(let vm, let node, let reason): "checkpoint \(vm) on \(node) (\(reason))"
    }
  }
}

/// A fault-tolerance policy: given what the cluster looks like now, what to do. A
/// researcher adds one by implementing this (and naming it in `PolicyCatalog`); the
/// daemon and the simulator call `decide` once per poll, in time order, with the same
/// kind of snapshot. A policy may keep state between calls (a class), e.g. a rate
/// estimate; it must not assume polls are evenly spaced.
public protocol FaultTolerancePolicy: AnyObject {
  /// The name `--policy` takes.
  var name: String { get }
  func decide(_ snapshot: ClusterSnapshot) -> [FaultToleranceAction]
}
