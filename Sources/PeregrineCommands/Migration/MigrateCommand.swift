import ArgumentParser
import Foundation
import HypervisorCore

/// `peregrine migrate VM --to NODE`: live migration by pre-copy (docs/migration.md). The
/// VM keeps running on its node while its memory is copied in rounds, each round the pages
/// the dirty log says changed; then it is paused, the last pages, its disk and its saved
/// state are copied, and it starts on the target. The source's copy is destroyed last.
struct MigrateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "migrate",
    abstract: "Move a running VM to another node of the same vendor.",
    discussion: """
      Refused before anything moves when the target is the VM's own node, unknown, of \
      another vendor (AMD-V state cannot run under VT-x, nor the reverse), without the \
      free memory, when the VM owns a passed-through PCI function, or when a migration \
      of the VM is already under way. Pre-copy rounds run until at most --downtime-pages \
      pages changed in a round or --max-rounds rounds are done. If the target fails, the \
      VM keeps running where it was (its dirty log off, unpaused); if the source fails, \
      the half-built VM on the target is destroyed.
      """)

  @OptionGroup var options: GlobalOptions
  @Argument(help: "The VM.") var vm: String
  @Option(name: .long, help: "The target node.") var to: String
  @Option(name: .long, help: "Pre-copy rounds at most.") var maxRounds = 8
  @Option(name: .long, help: "Stop and copy once a round finds this many dirty pages or fewer.")
  var downtimePages = 256
  @Flag(
    inversion: .prefixedNo,
    help: "Throttle the VM's vCPUs on its node while rounds do not halve its dirty pages.")
  var autoConverge = true

  func run() throws {
    let environment = CLIEnvironment.current
    let (result, source, target) = try Self.migrate(
      vm, to: to, maxRounds: maxRounds, downtimePages: downtimePages,
      autoConverge: autoConverge, environment: environment)
    if options.json {
      environment.printJSON(result)
    } else {
      let rounds = result.pagesPerRound.map(String.init).joined(separator: ", ")
      let throttled =
        result.throttlePerRound.contains { $0 > 0 }
        ? ", throttle per round "
          + result.throttlePerRound.map { "\($0) %" }.joined(separator: ", ") : ""
      environment.output(
        "migrated \(vm) from \(source) to \(target) in \(Formatting.seconds(result.totalSeconds)): downtime \(Formatting.seconds(result.downtimeSeconds)), \(result.pagesPerRound.count) rounds (pages \(rounds))\(throttled), \(Formatting.bytes(result.bytesSent)) of memory sent\n"
      )
    }
  }

  /// The migration itself, for this command and for the fault-tolerance daemon
  /// (`CLIFaultToleranceActions`): returns the result and the source and target node names.
  static func migrate(
    _ vm: String, to: String, maxRounds: Int = 8, downtimePages: Int = 256,
    autoConverge: Bool = true, environment: CLIEnvironment
  ) throws -> (result: MigrationResult, source: String, target: String) {
    let session = try ClusterSession(environment: environment)
    let target = try session.node(named: to)
    let (source, sourceConnection, machine) = try session.locate(vm)
    // First of the refusals: a migration under way has put an incoming copy on its target,
    // which would otherwise be the reason given ("already has a VM named ...").
    let lock = try MigrationLock(vm: vm, state: environment.state)
    defer { lock.release() }
    guard source.name != target.name else {
      throw CLIError(.refused, "\(vm) already runs on \(target.name); nothing moved")
    }
    // Between vendors: by the records first (no request), then by the nodes' own answers.
    if let reason = VendorCheck.migrationRefusal(
      vm: vm, from: VendorCheck.Node(source), to: VendorCheck.Node(target))
    {
      throw CLIError(.refused, reason)
    }
    guard let xml = ProfileRecords.recorded(vm, in: environment.state) else {
      throw CLIError(
        .noInput, "no profile is recorded for VM '\(vm)' (it was not created by this peregrine)")
    }
    let profile = try ProfileRecords.machine(named: vm, in: xml)
    if let reason = PassthroughRefusal.reason(vm: vm, profile: profile) {
      throw CLIError(.refused, "\(reason); nothing moved")
    }
    let targetConnection = try session.connection(to: target)
    let report = try environment.request { try targetConnection.describeNode() }
    let sourceReport = try environment.request { try sourceConnection.describeNode() }
    if let reason = VendorCheck.migrationRefusal(
      vm: vm, from: VendorCheck.Node(source, answered: sourceReport.backend),
      to: VendorCheck.Node(target, answered: report.backend))
    {
      throw CLIError(.refused, reason)
    }
    guard report.freeMemory >= profile.memoryBytes + (profile.memoryBytes >> 8) + (1 << 20) else {
      throw CLIError(
        .refused,
        "\(target.name) has \(Formatting.bytes(report.freeMemory)) free and \(vm) needs \(Formatting.bytes(profile.memoryBytes)) and its page tables; nothing moved"
      )
    }
    if report.machines.contains(vm) {
      throw CLIError(.refused, "\(target.name) already has a VM named \(vm); nothing moved")
    }
    guard let sourceMemory = sourceConnection as? MigrationConnection,
      let targetMemory = targetConnection as? MigrationConnection
    else { throw CLIError(.notSupported, "this connection cannot migrate a VM") }

    var migration = LiveMigration(
      vm: vm, profile: profile, xml: xml, source: sourceMemory, target: targetMemory,
      wasPaused: machine.state == .paused, environment: environment, maxRounds: maxRounds,
      downtimePages: downtimePages)
    migration.autoConverge = autoConverge
    if let pause = MigrationTestPause(
      vm: vm, state: environment.state, environment: ProcessInfo.processInfo.environment)
    {
      migration.afterRound = {
        pause.reached(round: $0, environment: environment, keepAlive: $1)
      }
    }
    if let milliseconds = MigrationTestPause.leaseMilliseconds(
      ProcessInfo.processInfo.environment)
    {
      migration.leaseMilliseconds = milliseconds
    }
    let result = try migration.run()
    return (result, source.name, target.name)
  }
}

/// One migration at a time per VM: a file in the CLI's state directory, created exclusively.
struct MigrationLock {
  let path: String

  init(vm: String, state: ClusterState) throws {
    try state.prepare()
    let directory = state.directory.appendingPathComponent("migrations")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    path = directory.appendingPathComponent("\(vm).lock").path
    var descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
    if descriptor < 0, Self.holderIsGone(path) {
      // A CLI killed midway (docs/migration.md, "A CLI that dies"): its nodes undo their
      // sides when their leases lapse; its lock goes with the next migration.
      unlink(path)
      descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
    }
    guard descriptor >= 0 else {
      throw CLIError(
        .refused, "a migration of \(vm) is already under way (\(path)); nothing moved",
        hint: "if no migration runs, remove \(path)")
    }
    let pid = "\(getpid())\n"
    _ = pid.withCString { write(descriptor, $0, strlen($0)) }
    close(descriptor)
  }

  func release() { unlink(path) }

  /// Whether the lock names a process of this host that no longer exists.
  static func holderIsGone(_ path: String) -> Bool {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
      let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
    else { return false }
    return kill(pid, 0) != 0 && errno == ESRCH
  }
}
