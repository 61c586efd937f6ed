/// Where evacuated VMs go: healthy nodes with room, chosen the same way every time.
public enum TargetSelection {
  /// For each VM of `evacuating` (in order), the node to move it to, or nil when no node
  /// has room. A candidate is healthy, not in `excluded` (the nodes being evacuated, or
  /// predicted to fail), and has the VM's memory and vCPUs free after the VMs already
  /// assigned in this call. Among candidates: the most free memory left, then the most
  /// free vCPUs, then the name (so a run is reproducible, and load spreads out).
  public static func targets(
    for evacuating: [VMPlacement], in snapshot: ClusterSnapshot, excluding excluded: Set<String>
  ) -> [String?] {
    var room: [String: (memory: UInt64, cpus: Int)] = [:]
    for node in snapshot.nodes where node.condition == .healthy && !excluded.contains(node.name) {
      room[node.name] = (node.freeMemory, node.freeCPUs)
    }
    return evacuating.map { vm in
      let best = room.filter { $0.value.memory >= vm.memoryBytes && $0.value.cpus >= vm.vcpus }
        .min { a, b in
          if a.value.memory != b.value.memory { return a.value.memory > b.value.memory }
          if a.value.cpus != b.value.cpus { return a.value.cpus > b.value.cpus }
          return a.key < b.key
        }
      guard let best else { return nil }
      room[best.key] = (best.value.memory - vm.memoryBytes, best.value.cpus - vm.vcpus)
      return best.key
    }
  }

  /// Migrations of every VM on the `suspects` nodes (not those already moving) to the best
  /// targets; VMs without a target are left where they are (the next poll tries again).
  public static func evacuate(
    _ suspects: [String: String], in snapshot: ClusterSnapshot
  ) -> [FaultToleranceAction] {
    let excluded = Set(suspects.keys)
    var actions: [FaultToleranceAction] = []
    var moving: [(VMPlacement, String, String)] = []
    for node in snapshot.nodes where node.condition != .dead {
      guard let reason = suspects[node.name] else { continue }
      for vm in node.vms where !vm.migrating { moving.append((vm, node.name, reason)) }
    }
    let chosen = targets(for: moving.map(\.0), in: snapshot, excluding: excluded)
    for ((vm, from, reason), target) in zip(moving, chosen) {
      if let target {
        actions.append(.migrate(vm: vm.name, from: from, to: target, reason: reason))
      }
    }
    return actions
  }
}
