import ArgumentParser
import Foundation
import HypervisorCore

/// `peregrine checkpoint VM FILE`: the VM paused, its saved state, memory, disk and profile
/// written to one checked file, and the VM let go again (docs/checkpoint.md).
struct CheckpointCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "checkpoint",
    abstract: "Save a VM (state, memory, disk, profile) to a checkpoint file.",
    discussion: """
      The VM is paused, its saved state, every non-zero chunk of its memory and its disk \
      are read from its node, and the VM is unpaused (unless --leave-paused, or it was \
      paused already). `peregrine restore FILE` starts it again, here or on another node \
      of the same vendor. A VM that owns a passed-through PCI function is refused. \
      Format: docs/checkpoint.md.
      """)

  @OptionGroup var options: GlobalOptions
  @Argument(help: "The VM.") var vm: String
  @Argument(help: "The checkpoint file to write.") var file: String
  @Flag(name: .long, help: "Leave the VM paused afterwards.") var leavePaused = false
  @Option(name: .long, help: "The VM's profile (default: the one `create` recorded).")
  var profile: String?

  func run() throws {
    let environment = CLIEnvironment.current
    let report = try Self.checkpoint(
      vm, to: file, leavePaused: leavePaused, profile: profile, environment: environment)
    if options.json {
      environment.printJSON(report)
    } else {
      let disk =
        report.diskBytes > 0
        ? ", disk \(Formatting.bytes(report.diskDataBytes)) of \(Formatting.bytes(report.diskBytes))"
        : ""
      environment.output(
        "checkpointed \(vm) on \(report.node) to \(file): \(Formatting.bytes(report.fileBytes)) (state \(Formatting.bytes(report.stateBytes)), memory \(Formatting.bytes(report.memoryDataBytes)) of \(Formatting.bytes(report.memoryBytes)) in \(report.memoryRuns) runs\(disk)); read in \(Formatting.seconds(report.readSeconds)), \(report.pausedSeconds.map { "paused \(Formatting.seconds($0))" } ?? "left paused"), total \(Formatting.seconds(report.totalSeconds))\n"
      )
    }
  }

  /// The checkpoint itself, for this command and for the fault-tolerance daemon
  /// (`CLIFaultToleranceActions`).
  static func checkpoint(
    _ vm: String, to file: String, leavePaused: Bool = false, profile: String? = nil,
    environment: CLIEnvironment
  ) throws -> CheckpointReport {
    let started = environment.now()
    let session = try ClusterSession(environment: environment)
    let (node, connection, machine) = try session.locate(vm)
    guard let memoryConnection = connection as? MemoryTransferConnection else {
      throw CLIError(.notSupported, "this connection cannot read a VM's memory")
    }
    let xml: Data
    if let profile {
      guard let data = FileManager.default.contents(atPath: profile) else {
        throw CLIError(.noInput, "cannot read \(profile)")
      }
      xml = data
    } else {
      guard let recorded = ProfileRecords.recorded(vm, in: environment.state) else {
        throw CLIError(
          .noInput, "no profile is recorded for VM '\(vm)' (it was not created by this peregrine)",
          hint: "give it with --profile FILE")
      }
      xml = recorded
    }
    let machineProfile = try ProfileRecords.machine(named: vm, in: xml)
    // The profile the VM was created from too, when --profile gives another: the device is
    // the running VM's, whatever the file says.
    var profiles = [machineProfile]
    if profile != nil, let recorded = ProfileRecords.recorded(vm, in: environment.state),
      let created = try? ProfileRecords.machine(named: vm, in: recorded)
    {
      profiles.append(created)
    }
    for candidate in profiles {
      if let reason = PassthroughRefusal.reason(vm: vm, profile: candidate) {
        throw CLIError(.refused, "\(reason); nothing was paused or read")
      }
    }
    let wasPaused = machine.state == .paused
    if !wasPaused { try environment.request { try connection.pauseMachine(named: vm) } }
    var leaveAsIs = false
    defer {
      if !wasPaused && !leavePaused && !leaveAsIs {
        _ = try? environment.request { try connection.unpauseMachine(named: vm) }
      }
    }
    let paused = environment.now()
    // The pause takes effect as every vCPU parks: the state is there once it has.
    var state: [UInt8]? = nil
    for attempt in 0..<100 {
      do {
        state = try environment.request { try memoryConnection.savedStateBytes(of: vm) }
        break
      } catch let error as CLIError
        where attempt < 99 && error.message.contains("pause the VM first")
      {
        environment.sleep(0.05)
      }
    }
    guard let state else { throw CLIError(.failure, "the VM did not pause") }
    let memory = try environment.request {
      try memoryConnection.readMemory(of: vm) { _, _ in }
    }
    var disk: SparseImage? = nil
    if machineProfile.disk != nil {
      let contents = try environment.request {
        try connection.readDisk(of: vm) { _ in }
      }
      disk = SparseImage(image: contents.image)
    }
    let read = environment.now()
    if !wasPaused && !leavePaused {
      try environment.request { try connection.unpauseMachine(named: vm) }
      leaveAsIs = true
    }
    let resumed = environment.now()
    let checkpoint = CheckpointFile(
      metadata: CheckpointFile.Metadata(
        machine: vm, node: node.name, backend: node.backend.rawValue,
        vendor: node.backend == .svm ? "AMD" : "Intel",
        createdAt: paused.timeIntervalSince1970, memoryBytes: memory.size,
        vcpus: machine.vcpus, diskBytes: disk?.size ?? 0,
        peregrineVersion: "0.1.0"),
      profile: [UInt8](xml), savedState: state, memory: memory, disk: disk)
    let bytes = checkpoint.encoded()
    do {
      try Data(bytes).write(to: URL(fileURLWithPath: file), options: .atomic)
    } catch {
      throw CLIError(.failure, "cannot write \(file): \(error.localizedDescription)")
    }
    let report = CheckpointReport(
      machine: vm, node: node.name, file: file, fileBytes: UInt64(bytes.count),
      stateBytes: UInt64(state.count), memoryBytes: memory.size,
      memoryDataBytes: memory.dataBytes, memoryRuns: memory.runs.count,
      diskBytes: disk?.size ?? 0, diskDataBytes: disk?.dataBytes ?? 0,
      pausedSeconds: (wasPaused || leavePaused) ? nil : resumed.timeIntervalSince(paused),
      readSeconds: read.timeIntervalSince(paused),
      totalSeconds: environment.now().timeIntervalSince(started))
    return report
  }
}

struct CheckpointReport: Encodable {
  var machine: String
  var node: String
  var file: String
  var fileBytes: UInt64
  var stateBytes: UInt64
  var memoryBytes: UInt64
  var memoryDataBytes: UInt64
  var memoryRuns: Int
  var diskBytes: UInt64
  var diskDataBytes: UInt64
  /// How long the VM stood still (nil: left paused).
  var pausedSeconds: Double?
  var readSeconds: Double
  var totalSeconds: Double
}
