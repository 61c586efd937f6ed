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

  /// Called after each round's pages were sent; waits only after round `round`.
  func reached(round done: Int, environment: CLIEnvironment) {
    guard done == round else { return }
    environment.errors(
      "peregrine: migrate: paused after round \(done) (\(Self.variable)); create \(resumeFile) to go on\n"
    )
    let deadline = environment.now().addingTimeInterval(Self.longest)
    while !FileManager.default.fileExists(atPath: resumeFile) && environment.now() < deadline {
      environment.sleep(0.1)
    }
    unlink(resumeFile)
  }
}
