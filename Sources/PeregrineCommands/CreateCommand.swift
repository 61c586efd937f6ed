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
      --node, else to the node with the most free memory. A name already in use anywhere \
      in the cluster is refused before anything is sent.
      """)

  @OptionGroup var options: GlobalOptions
  @Argument(help: "The profile (XML): a <profile> or a <cluster>.") var profile: String
  @Option(name: .long, help: "The node for the VMs the profile does not place (e.g. node0).")
  var node: String?

  func run() throws {
    let environment = CLIEnvironment.current
    let document = try ProfileReading.load(profile, json: options.json, environment: environment)
    let session = try ClusterSession(environment: environment)
    if let node { _ = try session.node(named: node) }
    let plan = try Placement.plan(document.members, defaultNode: node, session: session)
    var created: [CreatedMachine] = []
    for (member, node) in plan {
      let request = try Self.request(for: member.profile)
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
        if !created.isEmpty {
          environment.errors(
            "peregrine: created before the failure: \(created.map { "\($0.name) on \($0.node)" }.joined(separator: ", "))\n"
          )
        }
        throw error
      }
      reporter.finish()
      let seconds = environment.now().timeIntervalSince(started)
      created.append(
        CreatedMachine(
          name: summary.name, node: node.name, state: summary.state, vcpus: summary.vcpus,
          memory: summary.memory, sentBytes: request.totalBytes, seconds: seconds))
      if !options.json {
        let rate =
          seconds > 0
          ? " (\(Formatting.bytes(UInt64(Double(request.totalBytes) / seconds)))/s)" : ""
        environment.output(
          "created \(summary.name) on \(node.name): \(summary.state.rawValue), \(Formatting.bytes(summary.memory)), \(summary.vcpus) vCPU\(summary.vcpus == 1 ? "" : "s"); sent \(Formatting.bytes(request.totalBytes)) in \(Formatting.seconds(seconds))\(rate)\n"
        )
      }
    }
    if options.json { environment.printJSON(CreateReport(created: created)) }
  }

  /// The profile with the contents of its files.
  static func request(for profile: MachineProfile) throws -> CreateRequest {
    var uploads: [CreateRequest.Upload] = []
    for (role, path) in profile.files {
      guard let contents = FileManager.default.contents(atPath: path) else {
        throw CLIError(.noInput, "cannot read \(path), the \(role) of VM '\(profile.name)'")
      }
      uploads.append(CreateRequest.Upload(role: role, path: path, contents: contents))
    }
    return CreateRequest(profile: profile, files: uploads)
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
}

/// Where each VM goes, decided before anything is sent: names must be free on every node,
/// placed VMs go where the profile says, the others to `defaultNode` or the node with the
/// most free memory (counting what this plan already puts there).
enum Placement {
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
    var free = reports.mapValues(\.freeMemory)
    var plan: [(ClusterProfile.Member, NodeRecord)] = []
    for member in members {
      let wanted = member.node ?? defaultNode
      let node: NodeRecord
      if let wanted {
        node = try session.node(named: wanted)
        if let error = unreachable[node.name] { throw error }
      } else {
        let candidates = session.nodes.filter { free[$0.name] != nil }
        guard let best = candidates.max(by: { free[$0.name]! < free[$1.name]! }) else {
          throw unreachable.values.first ?? CLIError(.unreachable, "no node answered")
        }
        node = best
      }
      let available = free[node.name] ?? 0
      guard member.profile.memoryBytes <= available else {
        throw CLIError(
          .refused,
          "VM '\(member.profile.name)' needs \(Formatting.bytes(member.profile.memoryBytes)) and \(node.name) has \(Formatting.bytes(available)) free",
          hint: wanted == nil
            ? "no node has room: give the VM less <memory>, or destroy a VM"
            : "place it on another node (--node or <vm node=>)")
      }
      free[node.name] = available - member.profile.memoryBytes
      plan.append((member, node))
    }
    return plan
  }
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
