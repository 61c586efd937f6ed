import PeregrineProfiles

/// Where each VM goes, decided before anything is sent (docs/cli.md, "Placing a cluster"):
/// names must be free on every node and unique in the plan; a VM placed by its profile
/// (`<vm node=>`) or by `--node` goes there; the others go to the node with the most free
/// memory, then the most free CPUs, then the first in `nodes` order, each counting what
/// this plan already put there. Every VM is checked before anything is created, so a
/// cluster that does not fit changes nothing.
enum Placement {
  /// What the planner knows of one node: its answer to `describeNode`, less what the plan
  /// has put there so far.
  struct Capacity: Equatable {
    var cpuCount: Int
    var freeMemory: UInt64
    /// CPUs minus the vCPUs already there: each running VM counts one (the node lists VM
    /// names, not their vCPUs), each VM of this plan counts its vCPUs. Negative when
    /// oversubscribed (shared vCPUs may be).
    var freeCPUs: Int

    init(_ report: NodeReport) {
      cpuCount = report.cpuCount
      freeMemory = report.freeMemory
      freeCPUs = report.cpuCount - report.machines.count
    }

    mutating func take(_ profile: MachineProfile) {
      freeMemory -= Placement.neededMemory(profile)
      freeCPUs -= profile.vcpus
    }
  }

  static func plan(
    _ members: [ClusterProfile.Member], defaultNode: String?, session: ClusterSession
  ) throws -> [(ClusterProfile.Member, NodeRecord)] {
    let environment = session.environment
    var reports: [String: NodeReport] = [:]
    var unreachable: [String: CLIError] = [:]
    for node in session.nodes {
      do {
        let connection = try session.connection(to: node)
        reports[node.name] = try environment.request { try connection.describeNode() }
      } catch let error as CLIError where error.status == .unreachable {
        unreachable[node.name] = error
      }
    }
    // Names: refused before any transfer, as the node would refuse them after it.
    for member in members {
      for node in session.nodes
      where reports[node.name]?.machines.contains(member.profile.name) == true {
        throw CLIError(
          .refused, "a VM named '\(member.profile.name)' already runs on \(node.name)",
          hint: "pick another <name>, or `peregrine destroy \(member.profile.name)` first")
      }
    }
    let choices = try choose(
      members, defaultNode: defaultNode, nodes: session.nodes.map(\.name),
      capacities: reports.mapValues(Capacity.init), unreachable: unreachable)
    return try zip(members, choices).map { member, name in (member, try session.node(named: name)) }
  }

  /// The node of each member, in order, or the error that says which VM does not fit and
  /// why. Pure: the unit tests call it with made-up capacities.
  static func choose(
    _ members: [ClusterProfile.Member], defaultNode: String?, nodes: [String],
    capacities: [String: Capacity], unreachable: [String: CLIError] = [:]
  ) throws -> [String] {
    var capacities = capacities
    var chosen: [String] = []
    for member in members {
      let profile = member.profile
      let name: String
      if let wanted = member.node ?? defaultNode {
        guard nodes.contains(wanted) else {
          throw CLIError(
            .usage,
            "VM '\(profile.name)' is placed on node '\(wanted)', and the nodes are \(nodes.joined(separator: ", "))",
            hint: "`peregrine node up --count N` starts node0 ... nodeN-1; or change <vm node=>")
        }
        if let error = unreachable[wanted] { throw error }
        if let reason = misfit(profile, on: wanted, capacities[wanted]) {
          throw CLIError(
            .refused, reason + "; nothing was created",
            hint: "place it on another node (--node or <vm node=>), or change the profile")
        }
        name = wanted
      } else {
        let fitting = nodes.filter {
          capacities[$0] != nil && misfit(profile, on: $0, capacities[$0]) == nil
        }
        // max(by:) keeps the first of equals: a tie goes to the first node in order.
        let best = fitting.max { a, b in
          let (x, y) = (capacities[a]!, capacities[b]!)
          return (x.freeMemory, x.freeCPUs) < (y.freeMemory, y.freeCPUs)
        }
        guard let best else {
          if capacities.isEmpty {
            throw unreachable.values.first ?? CLIError(.unreachable, "no node answered")
          }
          let reasons = nodes.compactMap { node in
            capacities[node].flatMap { misfit(profile, on: node, $0) }
          }
          throw CLIError(
            .refused,
            "no node can take VM '\(profile.name)': " + reasons.joined(separator: "; ")
              + "; nothing was created",
            hint: "give the VM less <memory> or fewer <vcpus>, destroy a VM, or start more nodes")
        }
        name = best
      }
      capacities[name]!.take(profile)
      chosen.append(name)
    }
    return chosen
  }

  /// Why `profile` does not fit the node, or nil: its memory must be free there; pinned and
  /// gang vCPUs each need a CPU of the node, and pin= may name only CPUs the node has.
  static func misfit(_ profile: MachineProfile, on node: String, _ capacity: Capacity?) -> String? {
    guard let capacity else { return "\(node) did not answer" }
    if neededMemory(profile) > capacity.freeMemory {
      let disk =
        profile.disk.map {
          " (\(Formatting.bytes(profile.memoryBytes)) of memory and a \($0.sizeMiB) MiB disk image, held in the node's memory)"
        } ?? ""
      return
        "VM '\(profile.name)' needs \(Formatting.bytes(neededMemory(profile)))\(disk) and \(node) has \(Formatting.bytes(capacity.freeMemory)) free"
    }
    if profile.scheduling.mode != .shared && profile.vcpus > capacity.cpuCount {
      return
        "VM '\(profile.name)' has \(profile.vcpus) \(profile.scheduling.mode.profileWord) vCPUs, each needing a CPU of its own, and \(node) has \(capacity.cpuCount) CPUs"
    }
    if let pins = profile.scheduling.pinnedCPUs,
      let cpu = pins.first(where: { $0 >= capacity.cpuCount })
    {
      return
        "VM '\(profile.name)' pins a vCPU to CPU \(cpu), and \(node) has CPUs 0 to \(capacity.cpuCount - 1)"
    }
    return nil
  }

  /// A VM's memory and its disk: the node holds the disk image in its memory too.
  static func neededMemory(_ profile: MachineProfile) -> UInt64 {
    profile.memoryBytes + (profile.disk.map { $0.sizeMiB << 20 } ?? 0)
  }
}
