/// What a policy sees at each poll: every node's health and what runs on it. The daemon
/// (`peregrine ft run`) builds it from the nodes' answers; the simulator from its model of
/// a cluster. Policies see nothing else, so a policy written against this runs in both.
public struct ClusterSnapshot: Equatable {
  /// Seconds since the watch began (the daemon's first poll, the simulated job's start).
  public var time: Double
  /// In a stable order (the node table's, node0...nodeN-1 in the simulator).
  public var nodes: [NodeSnapshot]

  public init(time: Double, nodes: [NodeSnapshot]) {
    self.time = time
    self.nodes = nodes
  }

  public func node(named name: String) -> NodeSnapshot? { nodes.first { $0.name == name } }
}

public enum NodeCondition: String, Equatable, Codable {
  case healthy
  /// Up, but the node itself reports a problem (docs/node-health.md).
  case degraded
  /// Did not answer, or its emulator has gone (simulator: failed and not yet recovered).
  case dead
}

/// One VM as placed: what a target must have room for.
public struct VMPlacement: Equatable {
  public var name: String
  public var memoryBytes: UInt64
  public var vcpus: Int
  /// Being moved already (simulator; the daemon's migrations finish within its step):
  /// policies leave it alone.
  public var migrating: Bool

  public init(name: String, memoryBytes: UInt64, vcpus: Int, migrating: Bool = false) {
    self.name = name
    self.memoryBytes = memoryBytes
    self.vcpus = vcpus
    self.migrating = migrating
  }
}

public struct NodeSnapshot: Equatable {
  public var name: String
  public var condition: NodeCondition
  public var cpuCount: Int
  public var totalMemory: UInt64
  public var freeMemory: UInt64
  /// Corrected machine-check errors per MCA bank since the watch began, never decreasing
  /// (a rebooted node's counts carry on). Bank `unattributedBank` holds errors the node's
  /// history had already dropped when they were counted (more than 16 events between
  /// two polls).
  public var correctedErrorsByBank: [Int: UInt64]
  public var uncorrectedErrors: UInt64
  public var vms: [VMPlacement]

  public static let unattributedBank = -1

  public init(
    name: String, condition: NodeCondition, cpuCount: Int, totalMemory: UInt64,
    freeMemory: UInt64, correctedErrorsByBank: [Int: UInt64] = [:], uncorrectedErrors: UInt64 = 0,
    vms: [VMPlacement] = []
  ) {
    self.name = name
    self.condition = condition
    self.cpuCount = cpuCount
    self.totalMemory = totalMemory
    self.freeMemory = freeMemory
    self.correctedErrorsByBank = correctedErrorsByBank
    self.uncorrectedErrors = uncorrectedErrors
    self.vms = vms
  }

  public var correctedErrors: UInt64 { correctedErrorsByBank.values.reduce(0, +) }

  /// CPUs not yet given to a VM's vCPUs. A target needs one free per vCPU of the VM it
  /// takes: stricter than `create` (Placement.swift), which lets shared vCPUs share CPUs,
  /// so that an evacuated VM does not slow the VMs already on its new node.
  public var freeCPUs: Int { cpuCount - vms.reduce(0) { $0 + $1.vcpus } }
}
