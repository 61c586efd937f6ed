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
    if options.json && !console { environment.printJSON(CreateReport(created: created)) }
    if console, let (_, node) = plan.first {
      try ConsoleStream.follow(
        created[0].name, on: node, connection: try session.connection(to: node), json: options.json,
        poll: 0.1,
        environment: environment)
    }
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
        if let reason = misfit(
          member.profile, on: node.name, reports[node.name], free: free[node.name] ?? 0)
        {
          throw CLIError(
            .refused, reason,
            hint: "place it on another node (--node or <vm node=>), or change the profile")
        }
      } else {
        let fitting = session.nodes.filter { node in
          reports[node.name] != nil
            && misfit(member.profile, on: node.name, reports[node.name], free: free[node.name] ?? 0)
              == nil
        }
        guard let best = fitting.max(by: { free[$0.name]! < free[$1.name]! }) else {
          if reports.isEmpty {
            throw unreachable.values.first ?? CLIError(.unreachable, "no node answered")
          }
          let reasons = session.nodes.compactMap { node in
            reports[node.name].flatMap {
              misfit(member.profile, on: node.name, $0, free: free[node.name] ?? 0)
            }
          }
          throw CLIError(
            .refused,
            "no node can take VM '\(member.profile.name)': " + reasons.joined(separator: "; "),
            hint: "give the VM less <memory> or fewer <vcpus>, or destroy a VM")
        }
        node = best
      }
      free[node.name]! -= member.profile.memoryBytes
      plan.append((member, node))
    }
    return plan
  }

  /// Why `profile` does not fit the node, or nil: its memory must be free there; pinned and
  /// gang vCPUs each need a CPU of the node, and pin= may name only CPUs the node has.
  static func misfit(
    _ profile: MachineProfile, on node: String, _ report: NodeReport?, free: UInt64
  ) -> String? {
    guard let report else { return "\(node) did not answer" }
    if profile.memoryBytes > free {
      return
        "VM '\(profile.name)' needs \(Formatting.bytes(profile.memoryBytes)) and \(node) has \(Formatting.bytes(free)) free"
    }
    if profile.scheduling.mode != .shared && profile.vcpus > report.cpuCount {
      return
        "VM '\(profile.name)' has \(profile.vcpus) \(profile.scheduling.mode.profileWord) vCPUs, each needing a CPU of its own, and \(node) has \(report.cpuCount) CPUs"
    }
    if let pins = profile.scheduling.pinnedCPUs,
      let cpu = pins.first(where: { $0 >= report.cpuCount })
    {
      return
        "VM '\(profile.name)' pins a vCPU to CPU \(cpu), and \(node) has CPUs 0 to \(report.cpuCount - 1)"
    }
    return nil
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
