import ArgumentParser
import Foundation

struct ListCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "List the VMs of every node: state, vCPUs, memory, uptime.")

  @OptionGroup var options: GlobalOptions

  func run() throws {
    let environment = CLIEnvironment.current
    let session = try ClusterSession(environment: environment)
    let (found, unreachable) = try session.machinesByNode()
    let rows = found.flatMap { node, machines in
      machines.map { MachineRow(node: node.name, machine: $0) }
    }
    if options.json {
      environment.printJSON(
        MachineList(machines: rows, unreachableNodes: unreachable.map { $0.0.name }))
    } else if rows.isEmpty {
      environment.output("no VMs\n")
    } else {
      environment.output(
        Formatting.table(
          ["NAME", "NODE", "STATE", "VCPUS", "MEMORY", "UPTIME"],
          rows.map {
            [
              $0.name, $0.node, $0.state.rawValue, "\($0.vcpus)", Formatting.bytes($0.memory),
              Formatting.seconds($0.uptimeSeconds),
            ]
          }))
    }
    if let error = session.reportUnreachable(unreachable) { throw error }
  }
}

struct MachineList: Encodable {
  var machines: [MachineRow]
  var unreachableNodes: [String]
}

struct MachineRow: Encodable {
  var name: String
  var node: String
  var state: MachineState
  var vcpus: Int
  var memory: UInt64
  var uptimeSeconds: Double

  init(node: String, machine: MachineSummary) {
    name = machine.name
    self.node = node
    state = machine.state
    vcpus = machine.vcpus
    memory = machine.memory
    uptimeSeconds = machine.uptimeSeconds
  }
}

/// pause, unpause and destroy: one request to the node that runs the VM.
enum MachineAction: String {
  case pause, unpause, destroy

  var pastTense: String {
    switch self {
    case .pause: return "paused"
    case .unpause: return "unpaused"
    case .destroy: return "destroyed"
    }
  }

  func perform(on name: String, json: Bool) throws {
    let environment = CLIEnvironment.current
    let session = try ClusterSession(environment: environment)
    let (node, connection, _) = try session.locate(name)
    try environment.request {
      switch self {
      case .pause: try connection.pauseMachine(named: name)
      case .unpause: try connection.unpauseMachine(named: name)
      case .destroy: try connection.destroyMachine(named: name)
      }
    }
    if json {
      environment.printJSON(ActionReport(machine: name, node: node.name, action: pastTense))
    } else {
      environment.output("\(pastTense) \(name) on \(node.name)\n")
    }
  }
}

struct ActionReport: Encodable {
  var machine: String
  var node: String
  var action: String
  /// `destroy` of a VM with a disk: where the disk went (nil: no disk, or --discard-disk).
  var disk: SavedDisk? = nil
}

struct PauseCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "pause",
    abstract: "Stop all of a VM's vCPUs, on whatever cores they run; a paused VM costs no CPU time."
  )
  @OptionGroup var options: GlobalOptions
  @Argument(help: "The VM's name.") var vm: String
  func run() throws { try MachineAction.pause.perform(on: vm, json: options.json) }
}

struct UnpauseCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "unpause", abstract: "Resume a paused VM's vCPUs.")
  @OptionGroup var options: GlobalOptions
  @Argument(help: "The VM's name.") var vm: String
  func run() throws { try MachineAction.unpause.perform(on: vm, json: options.json) }
}

struct DestroyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "destroy",
    abstract: "Stop a VM and give all its memory back to the node; its name is free again.",
    discussion: """
      NAME may also be a virtual cluster's <name>: every VM that `create CLUSTER.xml` made \
      is destroyed, on whichever node runs it. A VM of the same name comes first, unless \
      --cluster.
      """)
  @OptionGroup var options: GlobalOptions
  @Argument(help: "The VM's name, or a cluster's.") var vm: String
  @Flag(name: .long, help: "NAME is a cluster, even if a VM has that name too.") var cluster = false
  @Flag(name: .long, help: "Do not bring the VM's disk back to the store first.")
  var discardDisk = false

  func run() throws {
    let environment = CLIEnvironment.current
    if !cluster, DiskRecords.entry(of: vm, in: environment.state) != nil {
      return try DiskDestruction.destroy(
        vm, keepingDisk: !discardDisk, json: options.json, environment: environment)
    }
    let recorded = try environment.state.readClusters().clusters.first { $0.name == vm }
    guard let recorded else {
      if cluster {
        throw CLIError(
          .noSuchMachine, "no cluster named '\(vm)' was created here",
          hint: "`peregrine list` shows the VMs; destroy them by name")
      }
      return try MachineAction.destroy.perform(on: vm, json: options.json)
    }
    if !cluster {
      do {
        return try MachineAction.destroy.perform(on: vm, json: options.json)
      } catch let error as CLIError where error.status == .noSuchMachine {}
    }
    try ClusterDestruction.destroy(
      recorded, keepingDisks: !discardDisk, json: options.json, environment: environment)
  }
}

/// `destroy CLUSTER`: each of its VMs where it runs now; the record goes once none is left.
enum ClusterDestruction {
  static func destroy(
    _ cluster: ClusterRecord, keepingDisks: Bool = true, json: Bool, environment: CLIEnvironment
  ) throws {
    let session = try ClusterSession(environment: environment)
    let (found, unreachable) = try session.machinesByNode()
    var destroyed: [PlacedMachine] = []
    var gone: [String] = []
    var left: [PlacedMachine] = []
    var failure: CLIError?
    for machine in cluster.machines {
      guard let (node, _) = found.first(where: { $0.machines.contains { $0.name == machine.name } })
      else {
        if unreachable.contains(where: { $0.0.name == machine.node }) {
          left.append(machine)
        } else {
          gone.append(machine.name)
        }
        continue
      }
      do {
        let connection = try session.connection(to: node)
        // A VM with a disk brings it back first, as `destroy VM` does.
        if keepingDisks && DiskRecords.entry(of: machine.name, in: environment.state) != nil {
          try DiskSaving.save(machine.name, as: nil, session: session, json: json, resume: false)
        }
        try environment.request { try connection.destroyMachine(named: machine.name) }
        try? DiskRecords.forget(machine.name, in: environment.state)
        destroyed.append(PlacedMachine(name: machine.name, node: node.name))
        if !json { environment.output("destroyed \(machine.name) on \(node.name)\n") }
      } catch let error as CLIError where error.status == .noSuchMachine {
        gone.append(machine.name)
      } catch let error as CLIError {
        left.append(machine)
        failure = failure ?? error
      }
    }
    var remaining = cluster
    remaining.machines = left
    if left.isEmpty {
      try environment.state.forgetCluster(named: cluster.name)
    } else {
      try environment.state.record(remaining)
    }
    if json {
      environment.printJSON(
        ClusterDestroyReport(
          cluster: cluster.name, destroyed: destroyed, alreadyGone: gone, left: left))
    } else {
      if !gone.isEmpty {
        environment.output("already gone: \(gone.joined(separator: ", "))\n")
      }
      environment.output(
        "cluster \(cluster.name): \(destroyed.count) of \(cluster.machines.count) VM(s) destroyed\n"
      )
    }
    guard left.isEmpty else {
      throw failure
        ?? CLIError(
          .unreachable,
          "\(left.map { "\($0.name) on \($0.node)" }.joined(separator: ", ")) not destroyed: the node did not answer",
          hint: "run `peregrine destroy \(cluster.name)` again once the node answers")
    }
  }
}

struct ClusterDestroyReport: Encodable {
  var cluster: String
  var destroyed: [PlacedMachine]
  var alreadyGone: [String]
  var left: [PlacedMachine]
}

/// `destroy VM` of a VM created with a disk: the disk comes back to where it came from
/// (`image save`), then the VM goes; a VM that ended by itself is destroyed on the node
/// that keeps its disk. With `--discard-disk` the disk is not read.
enum DiskDestruction {
  static func destroy(
    _ vm: String, keepingDisk: Bool, json: Bool, environment: CLIEnvironment
  ) throws {
    let session = try ClusterSession(environment: environment)
    var saved: SavedDisk? = nil
    if keepingDisk {
      do {
        saved = try DiskSaving.save(vm, as: nil, session: session, json: json, resume: false)
      } catch let error as CLIError where error.status != .noSuchMachine {
        throw CLIError(
          error.status, "\(error.message); VM \(vm) was not destroyed",
          hint: "`peregrine destroy \(vm) --discard-disk` destroys it without its disk")
      }
    }
    let (node, connection, _) = try DiskSaving.locateDisk(of: vm, session: session)
    do {
      try environment.request { try connection.destroyMachine(named: vm) }
    } catch let error as CLIError where error.status == .noSuchMachine {
      // The node no longer has it (rebooted): nothing is left to bring back.
      try DiskRecords.forget(vm, in: environment.state)
      throw error
    }
    try DiskRecords.forget(vm, in: environment.state)
    if json {
      environment.printJSON(
        ActionReport(machine: vm, node: node.name, action: "destroyed", disk: saved))
    } else {
      environment.output(
        "destroyed \(vm) on \(node.name)\(keepingDisk ? "" : " (its disk discarded)")\n")
    }
  }
}
