/// What a VM asks of the machine: its profile's `cpus=`, `sched=` and `pin=`.
public struct PlacementRequest: Equatable {
  public var vm: Int
  public var vcpuCount: Int
  public var mode: SchedulingMode
  /// pin=: the CPU of each vCPU, in vCPU order.
  public var explicitCPUs: [Int]?

  public init(vm: Int, vcpuCount: Int, mode: SchedulingMode, explicitCPUs: [Int]? = nil) {
    self.vm = vm
    self.vcpuCount = vcpuCount
    self.mode = mode
    self.explicitCPUs = explicitCPUs
  }
}

/// Chooses a host CPU for each vCPU of a VM, knowing the topology and who uses each CPU.
///
/// - `pinned` takes CPUs that no pinned or gang VM uses; they become the VM's alone.
/// - `gang` takes distinct CPUs that no pinned VM owns; other gang VMs may use them too
///   (`GangSchedule` gives them different time slots).
/// - `shared` takes the least-loaded CPUs that no pinned VM owns, and may stack vCPUs.
///
/// Preferences, in order: a whole idle core before a thread whose SMT sibling is busy, and
/// two vCPUs of one VM on SMT siblings only when no other core is left; then the fewest
/// last-level cache groups (a CCX on AMD Zen), best fit first so large groups stay whole
/// for large VMs; a VM that spills over its first group stays in its NUMA node, then its
/// package; then the lowest CPU number.
public struct VCPUPlacement {
  public let topology: CPUTopology
  public let assignment: CPUAssignment

  public init(topology: CPUTopology, assignment: CPUAssignment) {
    self.topology = topology
    self.assignment = assignment
  }

  /// The CPU of each vCPU, in vCPU order, or why the VM cannot be placed.
  public func place(_ request: PlacementRequest) -> Result<[Int], PlacementRefusal> {
    guard request.vcpuCount > 0 else { return .failure(.noVCPUs) }
    if let explicit = request.explicitCPUs {
      if let refusal = check(explicit, for: request) { return .failure(refusal) }
      return .success(explicit)
    }
    let eligible = (0..<topology.count).filter { isEligible($0, for: request) }
    switch request.mode {
    case .pinned:
      guard eligible.count >= request.vcpuCount else {
        return .failure(.notEnoughFreeCPUs(needed: request.vcpuCount, free: eligible.count))
      }
      return .success(distinctCPUs(request.vcpuCount, from: eligible, request: request))
    case .gang:
      guard eligible.count >= request.vcpuCount else {
        return .failure(
          .notEnoughUnpinnedCPUs(needed: request.vcpuCount, unpinned: eligible.count))
      }
      return .success(distinctCPUs(request.vcpuCount, from: eligible, request: request))
    case .shared:
      guard !eligible.isEmpty else {
        return .failure(.notEnoughUnpinnedCPUs(needed: 1, unpinned: 0))
      }
      return .success(leastLoadedCPUs(request.vcpuCount, from: eligible, request: request))
    }
  }

  // MARK: pin=

  private func check(_ cpus: [Int], for request: PlacementRequest) -> PlacementRefusal? {
    guard cpus.count == request.vcpuCount else {
      return .pinListLength(listed: cpus.count, vcpus: request.vcpuCount)
    }
    for (position, cpu) in cpus.enumerated() {
      guard cpu >= 0 && cpu < topology.count && cpu < assignment.cpuCount else {
        return .noSuchCPU(cpu)
      }
      // Shared vCPUs may share a core (they take turns); pinned and gang ones may not.
      if request.mode != .shared && cpus[..<position].contains(cpu) {
        return .cpuNamedTwice(cpu)
      }
      if let owner = assignment.pinnedOwner[cpu], owner != request.vm {
        return .cpuOwnedByPinnedVM(cpu: cpu, vm: owner)
      }
      if request.mode == .pinned,
        let gang = assignment.gangVMs[cpu].first(where: { $0 != request.vm })
      {
        return .cpuRunsGangVM(cpu: cpu, vm: gang)
      }
      // A pinned VM's CPUs are its alone: no other VM's shared vCPU may take turns there.
      if request.mode == .pinned,
        let shared = assignment.sharedVCPUs[cpu].first(where: { $0 != request.vm })
      {
        return .cpuRunsSharedVCPU(cpu: cpu, vm: shared)
      }
    }
    return nil
  }

  // MARK: Choosing

  private func isEligible(_ cpu: Int, for request: PlacementRequest) -> Bool {
    guard cpu < assignment.cpuCount else { return false }
    if let owner = assignment.pinnedOwner[cpu], owner != request.vm { return false }
    if request.mode == .pinned && assignment.gangVMs[cpu].contains(where: { $0 != request.vm }) {
      return false
    }
    if request.mode == .pinned
      && assignment.sharedVCPUs[cpu].contains(where: { $0 != request.vm })
    {
      return false
    }
    return true
  }

  /// How much else runs on `cpu`: gang VMs weigh more than shared vCPUs, since each one
  /// takes a whole time slot.
  private func load(_ cpu: Int) -> Int {
    assignment.gangVMs[cpu].count * 4 + assignment.sharedLoad(cpu)
  }

  /// Pinned and gang: `count` distinct CPUs out of `eligible` (which holds at least that
  /// many). Three passes: one thread of each wholly idle core, then one thread of each
  /// other core, then the remaining threads (SMT siblings of earlier picks).
  private func distinctCPUs(_ count: Int, from eligible: [Int], request: PlacementRequest)
    -> [Int]
  {
    var picks: [Int] = []
    var idleCoreThreads: [Int] = []
    var otherCoreThreads: [Int] = []
    var seenCores: [Int] = []
    for cpu in eligible {
      let core = topology[cpu].coreIndex
      guard !seenCores.contains(core) else { continue }
      seenCores.append(core)
      let threads = topology.threads(ofCoreOf: cpu)
      let wholeCoreIdle = threads.allSatisfy { assignment.isIdle($0) }
      let candidates = threads.filter { eligible.contains($0) }
      // The least-loaded eligible thread speaks for its core.
      var best = candidates[0]
      for thread in candidates where load(thread) < load(best) { best = thread }
      if wholeCoreIdle { idleCoreThreads.append(best) } else { otherCoreThreads.append(best) }
    }
    take(count, from: idleCoreThreads, into: &picks)
    take(count, from: otherCoreThreads, into: &picks)
    take(count, from: eligible.filter { !picks.contains($0) }, into: &picks)
    return picks
  }

  /// Adds CPUs from `candidates` to `picks` until it holds `count`, cache group by cache
  /// group: first the groups `picks` already uses, then groups in the first pick's NUMA node,
  /// then in its package; among those, groups that hold all that is still needed (the
  /// smallest such), then the largest groups; then the lowest group.
  private func take(_ count: Int, from candidates: [Int], into picks: inout [Int]) {
    var remaining = candidates
    while picks.count < count && !remaining.isEmpty {
      let need = count - picks.count
      var groups: [Int] = []
      for cpu in remaining where !groups.contains(topology[cpu].lastLevelCacheGroup) {
        groups.append(topology[cpu].lastLevelCacheGroup)
      }
      let usedGroups = picks.map { topology[$0].lastLevelCacheGroup }
      let first = picks.first.map { topology[$0] }
      func members(_ group: Int) -> [Int] {
        remaining.filter { topology[$0].lastLevelCacheGroup == group }
      }
      func rank(_ group: Int) -> (Int, Int, Int, Int, Int, Int) {
        let groupMembers = members(group)
        let size = groupMembers.count
        let used = usedGroups.contains(group) ? 0 : 1
        let sample = topology[groupMembers[0]]
        let sameNode = first == nil || first?.numaNode == sample.numaNode ? 0 : 1
        let samePackage = first == nil || first?.package == sample.package ? 0 : 1
        let fits = size >= need ? 0 : 1
        let fit = fits == 0 ? size : -size
        return (used, sameNode, samePackage, fits, fit, group)
      }
      var best = groups[0]
      for group in groups.dropFirst() where rank(group) < rank(best) { best = group }
      var chosen = members(best)
      chosen.sort { (load($0), $0) < (load($1), $1) }
      for cpu in chosen.prefix(need) { picks.append(cpu) }
      remaining.removeAll { topology[$0].lastLevelCacheGroup == best }
    }
  }

  /// Shared: each vCPU in turn to the least-loaded CPU, counting the vCPUs placed so far;
  /// ties avoid SMT siblings of this VM's other vCPUs, then threads of busy cores, then stay
  /// in the first vCPU's cache group, then take the lowest CPU.
  private func leastLoadedCPUs(_ count: Int, from eligible: [Int], request: PlacementRequest)
    -> [Int]
  {
    var extra = Array(repeating: 0, count: topology.count)
    var picks: [Int] = []
    for _ in 0..<count {
      func rank(_ cpu: Int) -> (Int, Int, Int, Int, Int) {
        let siblings = topology.siblings(of: cpu)
        let ownSibling = siblings.contains { picks.contains($0) } ? 1 : 0
        let busySibling = siblings.contains { !assignment.isIdle($0) || extra[$0] > 0 } ? 1 : 0
        let group = picks.first.map { topology[$0].lastLevelCacheGroup }
        let otherGroup = group == nil || group == topology[cpu].lastLevelCacheGroup ? 0 : 1
        return (load(cpu) + extra[cpu], ownSibling, busySibling, otherGroup, cpu)
      }
      var best = eligible[0]
      for cpu in eligible.dropFirst() where rank(cpu) < rank(best) { best = cpu }
      picks.append(best)
      extra[best] += 1
    }
    return picks
  }
}
