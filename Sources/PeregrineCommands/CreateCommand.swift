import ArgumentParser
import Foundation
import PeregrineProfiles

struct CreateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create",
    abstract: "Start the VM (or every VM of a cluster) a profile describes.",
    discussion: """
      The profile is validated first (as `validate` does); then its files are sent to the \
      node, with a progress bar on a terminal. A VM the profile does not place goes to \
      --node, else to the node with the most free memory among those it fits (its memory \
      free there, a CPU for each pinned or gang vCPU). A name already in use anywhere in \
      the cluster is refused before anything is sent.
      """)

  @OptionGroup var options: GlobalOptions
  @Argument(help: "The profile (XML): a <profile> or a <cluster>.") var profile: String
  @Option(name: .long, help: "The node for the VMs the profile does not place (e.g. node0).")
  var node: String?
  @Flag(
    name: .long, help: "Follow the new VM's console right away, as `console` does (one VM only).")
  var console = false

  func run() throws {
    let environment = CLIEnvironment.current
    let document = try ProfileReading.load(profile, json: options.json, environment: environment)
    let session = try ClusterSession(environment: environment)
    if let node { _ = try session.node(named: node) }
    if console && document.members.count != 1 {
      throw CLIError(
        .usage, "--console follows one VM, and \(profile) describes \(document.members.count)")
    }
    let plan = try Placement.plan(document.members, defaultNode: node, session: session)
    var created: [CreatedMachine] = []
    for (member, node) in plan {
      let request = try Self.request(for: member.profile, images: environment.state.images)
      let connection = try session.connection(to: node)
      let reporter = TransferReporter(
        environment: environment, draw: environment.errorsIsTerminal && !options.json)
      let started = environment.now()
      let summary: MachineSummary
      do {
        summary = try environment.request {
          try connection.createMachine(request) { reporter.update($0) }
        }
      } catch {
        reporter.finish()
        environment.errors(
          "peregrine: creating VM '\(member.profile.name)' on \(node.name) failed\n")
        // A cluster is created whole or not at all: what this create made goes again.
        let left = Rollback.destroy(
          created.map { PlacedMachine(name: $0.name, node: $0.node) }, session: session)
        if !left.isEmpty {
          throw CLIError(
            .failure,
            "creating VM '\(member.profile.name)' failed (\((error as? CLIError)?.message ?? "\(error)")), and \(left.map { "\($0.name) on \($0.node)" }.joined(separator: ", ")) could not be destroyed",
            hint: left.map { "peregrine destroy \($0.name)" }.joined(separator: "; "))
        }
        throw error
      }
      reporter.finish()
      let seconds = environment.now().timeIntervalSince(started)
      // For `checkpoint`, which puts the VM's profile in its file (docs/checkpoint.md).
      if let xml = FileManager.default.contents(atPath: profile) {
        try? ProfileRecords.record(summary.name, xml: xml, in: environment.state)
      }
      if let source = request.diskSource {
        try DiskRecords.record(
          DiskRecords.Entry(machine: summary.name, node: node.name, source: source),
          in: environment.state)
      } else {
        // A VM of that name that had a disk is gone (its node said so by taking the name).
        try DiskRecords.forget(summary.name, in: environment.state)
      }
      if let counts = summary.diskTransfer, !options.json {
        environment.errors(
          "disk of \(summary.name): \(counts.sentChunks) chunks sent, \(counts.skippedChunks) chunks of zeros skipped\n"
        )
      }
      created.append(
        CreatedMachine(
          name: summary.name, node: node.name, state: summary.state, vcpus: summary.vcpus,
          memory: summary.memory, sentBytes: request.totalBytes, seconds: seconds,
          disk: summary.diskTransfer))
      if !options.json {
        let rate =
          seconds > 0
          ? " (\(Formatting.bytes(UInt64(Double(request.totalBytes) / seconds)))/s)" : ""
        environment.output(
          "created \(summary.name) on \(node.name): \(summary.state.rawValue), \(Formatting.bytes(summary.memory)), \(summary.vcpus) vCPU\(summary.vcpus == 1 ? "" : "s"); sent \(Formatting.bytes(request.totalBytes)) in \(Formatting.seconds(seconds))\(rate)\n"
        )
      }
    }
    if case .cluster(let cluster) = document {
      try environment.state.record(
        ClusterRecord(
          name: cluster.name, profile: profile,
          machines: created.map { PlacedMachine(name: $0.name, node: $0.node) },
          createdAt: environment.now()))
    }
    if options.json && !console { environment.printJSON(CreateReport(created: created)) }
    if console, let (_, node) = plan.first {
      try ConsoleStream.follow(
        created[0].name, on: node, connection: try session.connection(to: node), json: options.json,
        poll: 0.1,
        environment: environment)
    }
  }

  /// The profile with the contents of its files; its disk from the image store (by name)
  /// or its file, at the profile's size (a smaller image grows by zeros, as `qemu-img
  /// resize` would; a larger one is refused).
  static func request(for profile: MachineProfile, images: DiskImageStore) throws
    -> CreateRequest
  {
    var uploads: [CreateRequest.Upload] = []
    var diskSource: DiskSource? = nil
    for (role, path) in profile.files where role != "disk" {
      guard let contents = FileManager.default.contents(atPath: path) else {
        throw CLIError(.noInput, "cannot read \(path), the \(role) of VM '\(profile.name)'")
      }
      uploads.append(CreateRequest.Upload(role: role, path: path, contents: contents))
    }
    if let disk = profile.disk {
      var path = disk.path
      if let name = disk.storeName, images.exists(name) {
        path = images.file(name).path
        diskSource = .store(name)
      } else if FileManager.default.fileExists(atPath: disk.path) {
        diskSource = .file(disk.path)
      } else {
        let store = disk.storeName.map { "no image '\($0)' in the store and " } ?? ""
        throw CLIError(
          .noInput,
          "VM '\(profile.name)' names the disk \(disk.storeName ?? disk.path): \(store)no file \(disk.path)",
          hint:
            "`peregrine image list` shows the store; `peregrine image create NAME --size \(disk.sizeMiB)M` makes one"
        )
      }
      guard var contents = FileManager.default.contents(atPath: path) else {
        throw CLIError(.noInput, "cannot read \(path), the disk of VM '\(profile.name)'")
      }
      let size = Int(disk.sizeMiB << 20)
      guard contents.count <= size else {
        throw CLIError(
          .invalidProfile,
          "the disk of VM '\(profile.name)' (\(diskSource!.description)) holds \(Formatting.bytes(UInt64(contents.count))), more than its <image size=\"\(disk.sizeMiB)\"> MiB",
          hint: "set size= to at least \((contents.count + (1 << 20) - 1) >> 20)")
      }
      if contents.count < size { contents.append(Data(count: size - contents.count)) }
      uploads.append(CreateRequest.Upload(role: "disk", path: path, contents: contents))
    }
    return CreateRequest(profile: profile, files: uploads, diskSource: diskSource)
  }
}

struct CreateReport: Encodable {
  var created: [CreatedMachine]
}

struct CreatedMachine: Encodable {
  var name: String
  var node: String
  var state: MachineState
  var vcpus: Int
  var memory: UInt64
  var sentBytes: UInt64
  var seconds: Double
  /// Chunks of the disk sent and left out (zeros); nil without a disk.
  var disk: DiskTransferCounts? = nil
}

/// Draws the progress bar on standard error while a transfer runs (at most every 0.1 s).
final class TransferReporter {
  let environment: CLIEnvironment
  let draw: Bool
  let started: Date
  var lastDrawn: Date?
  var drewSomething = false

  init(environment: CLIEnvironment, draw: Bool) {
    self.environment = environment
    self.draw = draw
    started = environment.now()
  }

  func update(_ progress: TransferProgress) {
    guard draw else { return }
    let now = environment.now()
    if let lastDrawn, now.timeIntervalSince(lastDrawn) < 0.1,
      progress.sentBytes < progress.totalBytes
    {
      return
    }
    lastDrawn = now
    drewSomething = true
    environment.errors(
      "\r\u{1B}[K" + ProgressBar().render(progress, elapsedSeconds: now.timeIntervalSince(started)))
  }

  func finish() {
    if drewSomething { environment.errors("\n") }
  }
}
