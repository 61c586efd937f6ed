import ArgumentParser
import Foundation
import HypervisorCore

/// `peregrine restore FILE`: a checkpoint checked whole, then the VM created incoming on a
/// node, its memory written, its state restored and its vCPUs started (docs/checkpoint.md).
struct RestoreCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "restore",
    abstract: "Start a VM again from a checkpoint file.",
    discussion: """
      The whole file is checked first (its SHA-256s, format version, sections); a file that \
      is truncated or corrupt, or that was taken on a node of another vendor, is refused \
      with the reason and nothing is sent. Then the VM is created on the node (--node, \
      else the first node of the checkpoint's vendor) with its memory zeroed and nothing \
      loaded, its disk sent as `create` sends one, its memory written, and its saved state \
      restored; its vCPUs start where they stopped.
      """)

  @OptionGroup var options: GlobalOptions
  @Argument(help: "The checkpoint file.") var file: String
  @Option(name: .long, help: "The node to restore on (e.g. node1).") var node: String?
  @Option(name: .long, help: "The restored VM's name (default: the checkpointed VM's).")
  var name: String?

  func run() throws {
    let environment = CLIEnvironment.current
    let started = environment.now()
    guard let data = FileManager.default.contents(atPath: file) else {
      throw CLIError(.noInput, "cannot read \(file)")
    }
    let checkpoint: CheckpointFile
    do {
      checkpoint = try CheckpointFile.decode([UInt8](data))
    } catch {
      throw CLIError(.noInput, "\(file): \(error.description); nothing was sent")
    }
    // The saved state must be a VM's saved state, of this memory size.
    let saved: SavedVMState
    do {
      saved = try SavedVMState.decoded(checkpoint.savedState)
    } catch {
      throw CLIError(
        .noInput, "\(file): the saved state does not decode (\(error)); nothing was sent")
    }
    guard saved.memorySize == checkpoint.memory.size else {
      throw CLIError(
        .noInput,
        "\(file): the saved state is of \(saved.memorySize) bytes of memory, the memory section holds \(checkpoint.memory.size); nothing was sent"
      )
    }
    var profile = try ProfileRecords.machine(
      named: checkpoint.metadata.machine, in: Data(checkpoint.profile))
    guard profile.memoryBytes == checkpoint.memory.size, profile.vcpus == saved.vcpus.count else {
      throw CLIError(
        .noInput,
        "\(file): the profile (\(profile.memoryBytes) bytes, \(profile.vcpus) vCPUs) does not match the saved state (\(saved.memorySize) bytes, \(saved.vcpus.count) vCPUs); nothing was sent"
      )
    }
    if let name { profile.name = name }
    let session = try ClusterSession(environment: environment)
    let target: NodeRecord
    if let node {
      target = try session.node(named: node)
    } else if let first = session.nodes.first(where: {
      $0.backend.rawValue == checkpoint.metadata.backend
    }) {
      target = first
    } else {
      throw CLIError(
        .refused,
        "no node of the checkpoint's vendor (\(checkpoint.metadata.vendor), \(checkpoint.metadata.backend)); nothing was sent"
      )
    }
    let metadata = checkpoint.metadata
    if let reason = VendorCheck.restoreRefusal(
      file: file, backend: metadata.backend, vendor: metadata.vendor, on: VendorCheck.Node(target))
    {
      throw CLIError(.refused, reason)
    }
    for (_, machines) in try session.machinesByNode().found
    where machines.contains(where: { $0.name == profile.name }) {
      throw CLIError(
        .refused, "a VM named '\(profile.name)' exists; nothing was sent",
        hint: "restore it under another name with --name NEW")
    }
    let connection = try session.connection(to: target)
    // The node's own word on its vendor, before anything is sent to it.
    let answer = try environment.request { try connection.describeNode() }
    if let reason = VendorCheck.restoreRefusal(
      file: file, backend: metadata.backend, vendor: metadata.vendor,
      on: VendorCheck.Node(target, answered: answer.backend))
    {
      throw CLIError(.refused, reason)
    }
    guard let memoryConnection = connection as? MemoryTransferConnection else {
      throw CLIError(.notSupported, "this connection cannot write a VM's memory")
    }
    var request = CreateRequest(profile: profile, files: [], diskSource: nil)
    request.incoming = true
    if let disk = checkpoint.disk {
      request.files.append(
        CreateRequest.Upload(role: "disk", path: "\(file) (disk)", contents: Data(disk.image())))
    }
    let createStarted = environment.now()
    let summary = try environment.request { try connection.createMachine(request) { _ in } }
    let chunks = checkpoint.memory.chunks(of: 1024)
    let memoryStarted = environment.now()
    do {
      try environment.request {
        try memoryConnection.writeMemory(of: summary.name, chunks: chunks) { _, _ in }
      }
      let stateStarted = environment.now()
      try environment.request {
        try memoryConnection.restoreState(of: summary.name, state: checkpoint.savedState)
      }
      let finished = environment.now()
      let report = RestoreReport(
        machine: summary.name, node: target.name, file: file, fileBytes: UInt64(data.count),
        memoryBytes: checkpoint.memory.size, memoryDataBytes: checkpoint.memory.dataBytes,
        memoryChunks: chunks.count, diskBytes: checkpoint.disk?.size ?? 0,
        stateBytes: UInt64(checkpoint.savedState.count),
        createSeconds: memoryStarted.timeIntervalSince(createStarted),
        memorySeconds: stateStarted.timeIntervalSince(memoryStarted),
        stateSeconds: finished.timeIntervalSince(stateStarted),
        totalSeconds: finished.timeIntervalSince(started))
      if options.json {
        environment.printJSON(report)
      } else {
        environment.output(
          "restored \(summary.name) on \(target.name) from \(file) (\(Formatting.bytes(report.fileBytes))): memory \(Formatting.bytes(report.memoryDataBytes)) of \(Formatting.bytes(report.memoryBytes)) in \(report.memoryChunks) chunks (\(Formatting.seconds(report.memorySeconds))), created in \(Formatting.seconds(report.createSeconds)), state in \(Formatting.seconds(report.stateSeconds)), total \(Formatting.seconds(report.totalSeconds))\n"
        )
      }
    } catch {
      // No half-restored VM is left behind.
      _ = try? environment.request { try connection.destroyMachine(named: summary.name) }
      throw error
    }
  }
}

struct RestoreReport: Encodable {
  var machine: String
  var node: String
  var file: String
  var fileBytes: UInt64
  var memoryBytes: UInt64
  var memoryDataBytes: UInt64
  var memoryChunks: Int
  var diskBytes: UInt64
  var stateBytes: UInt64
  var createSeconds: Double
  var memorySeconds: Double
  var stateSeconds: Double
  var totalSeconds: Double
}
