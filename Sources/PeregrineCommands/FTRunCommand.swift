import ArgumentParser
import FaultTolerance
import Foundation

/// `peregrine ft run`: the fault-tolerance daemon.
struct FTRunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Watch every node's health and act before a failure, as the policy says.",
    discussion: """
      Every --interval seconds (at start + k * interval; a poll an action overran is \
      skipped): asks every node for its health and VMs, gives the policy \
      the snapshot, and carries out its actions (migrate a VM to a healthy node with room, \
      checkpoint a VM) one after another. Runs until Ctrl-C; --once polls once and exits, \
      non-zero when an action could not be carried out. Migrations and checkpoints run \
      the code of `peregrine migrate` and `peregrine checkpoint`; after one fails, the \
      daemon leaves that VM alone for --backoff seconds, doubled on each further failure \
      (docs/fault-tolerance.md).
      """)

  @OptionGroup var options: GlobalOptions

  @Option(help: "The policy (\(PolicyCatalog.shipped.joined(separator: ", ")); join with '+').")
  var policy: String

  @Option(help: "Seconds between polls.")
  var interval: Double = 10

  @Flag(help: "Poll once, act, and exit.")
  var once = false

  @Option(
    name: [.customLong("checkpoint-dir"), .customLong("checkpoint-directory")],
    help:
      "Where checkpoints go, as VM-YYYYMMDDTHHMMSSZ.checkpoint (default $PEREGRINE_HOME/checkpoints)."
  )
  var checkpointDirectory: String?

  @Option(help: "Seconds to leave a VM alone after an action on it failed (doubled per failure).")
  var backoff: Double = 60

  @OptionGroup var policyOptions: PolicyOptions

  func validate() throws {
    guard interval.isFinite, interval >= 0.5 else {
      throw ValidationError("--interval must be at least 0.5 seconds")
    }
    guard backoff.isFinite, backoff >= 0 else {
      throw ValidationError("--backoff must be 0 or more seconds")
    }
  }

  func run() throws {
    let environment = CLIEnvironment.current
    let parameters = policyOptions.parameters
    let chosen = try checked(status: .usage) { () throws(FaultToleranceError) in
      try PolicyCatalog.make(policy, parameters)
    }
    let session = try ClusterSession(environment: environment)
    let directory =
      checkpointDirectory ?? environment.state.directory.appendingPathComponent("checkpoints").path
    let daemon = FaultToleranceDaemon(
      policy: chosen, source: ClusterNodeSource(session: session),
      actions: CLIFaultToleranceActions(
        checkpointDirectory: directory, now: environment.now, environment: environment),
      backoff: backoff)
    let start = environment.now()
    if !once { Interrupts.install() }
    var failures: [ActionOutcome] = []
    var polls = 0.0
    while true {
      let now = environment.now()
      // The policy sees the poll's place in the cadence, k * interval, not the clock: the
      // sleep's overshoot (a millisecond) would otherwise make a period of exactly 30 s
      // seen as 29.999 s at one poll, and a periodic checkpoint come one poll late.
      let step = daemon.step(at: polls * interval)
      failures += step.outcomes.filter { !$0.succeeded }
      report(step, at: now, environment)
      if once || environment.interrupted() { break }
      // Polls keep the cadence start + k * interval, as the simulator's do: a poll's own
      // time (every node asked) and its actions' (a migration, a checkpoint) do not push
      // the later polls back; polls that an action overran are skipped, not made up.
      let elapsed = environment.now().timeIntervalSince(start)
      polls = max(polls + 1, (elapsed / interval).rounded(.down) + 1)
      // Sleep in short pieces so that Ctrl-C ends the daemon promptly.
      while !environment.interrupted() {
        let left = polls * interval - environment.now().timeIntervalSince(start)
        if left <= 0 { break }
        environment.sleep(min(0.5, left))
      }
      if environment.interrupted() { break }
    }
    if once, let first = failures.first {
      let status: ExitStatus
      switch first.result {
      case .notAvailable: status = .notSupported
      case .refused: status = .refused
      default: status = .failure
      }
      throw CLIError(
        status,
        "\(failures.count) action\(failures.count == 1 ? "" : "s") could not be carried out (first: \(first.action): \(Self.words(first.result)))",
        reported: options.json)
    }
  }

  private func report(_ step: DaemonStep, at now: Date, _ environment: CLIEnvironment) {
    if options.json {
      environment.printJSON(DaemonStepReport(step, policy: policy, at: now))
      return
    }
    let stamp = Formatting.timestamp(now)
    let nodes = step.snapshot.nodes.map { node in
      let errors = node.correctedErrorsByBank.sorted { $0.key < $1.key }.map {
        $0.key == NodeSnapshot.unattributedBank
          ? "\($0.value) unattributed" : "bank \($0.key): \($0.value)"
      }
      return
        "\(node.name) \(node.condition.rawValue), \(node.vms.count) VM\(node.vms.count == 1 ? "" : "s")"
        + (errors.isEmpty ? "" : " (corrected errors \(errors.joined(separator: ", ")))")
    }
    environment.output(
      "\(stamp) \(policy): \(nodes.joined(separator: "; "))\(step.outcomes.isEmpty ? "; no action" : "")\n"
    )
    for outcome in step.outcomes {
      environment.output("  \(outcome.action): \(Self.words(outcome.result))\n")
    }
  }

  static func words(_ result: ActionOutcome.Result) -> String {
    switch result {
    case .done(let detail): "done, \(detail)"
    case .notAvailable(let why): "not carried out: \(why)"
    case .failed(let why): "failed: \(why)"
    case .refused(let why): "refused: \(why)"
    }
  }
}

/// `ft run --json`: one object per poll.
struct DaemonStepReport: Encodable {
  struct Node: Encodable {
    var name: String
    var condition: String
    var vms: [String]
    var correctedErrorsByBank: [String: UInt64]
    var uncorrectedErrors: UInt64
  }
  struct Outcome: Encodable {
    var action: String
    var vm: String
    var result: String
    var detail: String
  }
  var time: Date
  /// Seconds since the daemon started, as the policy saw them (`time` has whole seconds).
  var seconds: Double
  var policy: String
  var nodes: [Node]
  var actions: [Outcome]

  init(_ step: DaemonStep, policy: String, at time: Date) {
    self.time = time
    seconds = step.snapshot.time
    self.policy = policy
    nodes = step.snapshot.nodes.map {
      Node(
        name: $0.name, condition: $0.condition.rawValue, vms: $0.vms.map(\.name),
        correctedErrorsByBank: Dictionary(
          uniqueKeysWithValues: $0.correctedErrorsByBank.map {
            ($0.key == NodeSnapshot.unattributedBank ? "unattributed" : "\($0.key)", $0.value)
          }),
        uncorrectedErrors: $0.uncorrectedErrors)
    }
    actions = step.outcomes.map { outcome in
      let (result, detail): (String, String) =
        switch outcome.result {
        case .done(let detail): ("done", detail)
        case .notAvailable(let why): ("not_available", why)
        case .failed(let why): ("failed", why)
        case .refused(let why): ("refused", why)
        }
      return Outcome(
        action: "\(outcome.action)", vm: outcome.action.vm, result: result, detail: detail)
    }
  }
}
