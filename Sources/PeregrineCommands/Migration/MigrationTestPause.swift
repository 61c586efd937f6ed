import Foundation

/// A test-only stop between pre-copy rounds (docs/migration.md, "Faults"): with
/// `PEREGRINE_MIGRATION_PAUSE_AFTER_ROUND=N` in its environment, `migrate` stops once round
/// N's pages were sent (round 0 is the whole memory), says so on standard error, and goes on
/// when the file `migrations/VM.resume` exists in the state directory (it removes it) or
/// after 300 s. The integration cases kill a node's emulator at that point: a fault at a
/// known step of the algorithm, not at whatever point a race happens to reach.
struct MigrationTestPause {
  static let variable = "PEREGRINE_MIGRATION_PAUSE_AFTER_ROUND"
  static let longest: Double = 300

  let round: Int
  let resumeFile: String

  /// nil unless the variable holds a round number.
  init?(vm: String, state: ClusterState, environment: [String: String]) {
    guard let value = environment[Self.variable], let round = Int(value), round >= 0 else {
      return nil
    }
    self.round = round
    resumeFile =
      state.directory.appendingPathComponent("migrations")
      .appendingPathComponent("\(vm).resume").path
  }

  /// Test-only too: `PEREGRINE_MIGRATION_LEASE_SECONDS=S` asks the nodes for leases of S
  /// seconds instead of 30 (the node takes 1 to 600), so a case that kills the CLI sees the
  /// nodes clean up soon.
  static let leaseVariable = "PEREGRINE_MIGRATION_LEASE_SECONDS"

  static func leaseMilliseconds(_ environment: [String: String]) -> UInt64? {
    guard let value = environment[leaseVariable], let seconds = Double(value), seconds > 0
    else { return nil }
    return UInt64(seconds * 1000)
  }

  /// Called after each round's pages were sent; waits only after round `round`, renewing
  /// the nodes' migration leases (`keepAlive`) every 2 s meanwhile.
  func reached(round done: Int, environment: CLIEnvironment, keepAlive: () -> Void = {}) {
    guard done == round else { return }
    environment.errors(
      "peregrine: migrate: paused after round \(done) (\(Self.variable)); create \(resumeFile) to go on\n"
    )
    let deadline = environment.now().addingTimeInterval(Self.longest)
    var renewed = environment.now()
    while !FileManager.default.fileExists(atPath: resumeFile) && environment.now() < deadline {
      environment.sleep(0.1)
      if environment.now().timeIntervalSince(renewed) >= 2 {
        keepAlive()
        renewed = environment.now()
      }
    }
    unlink(resumeFile)
  }
}
