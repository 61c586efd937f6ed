import FaultTolerance
import Foundation

/// The daemon's view of the real cluster: each node's info and VM list, through the same
/// connections as `peregrine nodes` and `peregrine list`. A node that is not running or
/// does not answer is dead for this poll.
final class ClusterNodeSource: NodeSource {
  let session: ClusterSession

  init(session: ClusterSession) { self.session = session }

  func poll() -> [NodeReading] {
    let environment = session.environment
    return session.nodes.map { node in
      guard environment.launcher.isRunning(node.pid, node.marker) else { return .dead(node.name) }
      do {
        let connection = try session.connection(to: node)
        let report = try environment.request { try connection.describeNode() }
        let machines = try environment.request { try connection.listMachines() }
        return Self.reading(node.name, report, machines)
      } catch let error as CLIError where error.status == .unreachable {
        return .dead(node.name)
      } catch {
        // Not the node's silence (a protocol mismatch, a refusal): say so, and count it
        // as dead for this poll, since nothing it says can be used.
        let message = (error as? CLIError)?.message ?? "\(error)"
        environment.errors(
          "peregrine: warning: node \(node.name): \(message); counted as dead for this poll\n")
        return .dead(node.name)
      }
    }
  }

  static func reading(_ name: String, _ report: NodeReport, _ machines: [MachineSummary])
    -> NodeReading
  {
    NodeReading(
      name: name, degraded: report.health == "degraded", cpuCount: report.cpuCount,
      totalMemory: report.totalMemory, freeMemory: report.freeMemory,
      uptimeMilliseconds: UInt64(max(0, report.uptimeSeconds * 1000).rounded()),
      correctedSinceBoot: report.correctedMachineChecks,
      uncorrectedSinceBoot: report.uncorrectedMachineChecks,
      correctedEvents: report.healthHistory.compactMap { entry in
        guard entry.kind == "correctedMachineCheck", let bank = entry.bank, let count = entry.count
        else { return nil }
        return NodeReading.CorrectedEvent(
          millisecondsSinceBoot: UInt64(max(0, entry.secondsSinceBoot * 1000).rounded()),
          cpu: entry.cpu ?? 0, bank: bank, count: count)
      },
      vms: machines.filter { $0.state != .ended }.map {
        VMPlacement(name: $0.name, memoryBytes: $0.memory, vcpus: $0.vcpus)
      })
  }
}

/// What the daemon's actions call: the library entry points of `peregrine migrate VM --to
/// NODE` (`MigrateCommand.migrate`) and `peregrine checkpoint VM FILE`
/// (`CheckpointCommand.checkpoint`), in this process. Whatever either throws (a refusal, an
/// unreachable node, a migration of the VM already under way) becomes
/// `FaultToleranceActionError.failed` with the command's own words.
struct CLIFaultToleranceActions: FaultToleranceActions {
  /// Where `checkpoint` writes: DIRECTORY/VM-YYYYMMDDTHHMMSSZ.checkpoint.
  let checkpointDirectory: String
  let now: () -> Date
  let environment: CLIEnvironment

  func migrate(vm: String, from: String, to: String) throws {
    // `from` is where the snapshot saw the VM; the migration finds it again itself, so a
    // VM that moved since the poll still ends up on `to` (or is refused there, in words).
    _ = try mapped { try MigrateCommand.migrate(vm, to: to, environment: environment) }
  }

  func checkpoint(vm: String, node: String) throws -> String {
    let file = checkpointFile(for: vm)
    do {
      try FileManager.default.createDirectory(
        atPath: checkpointDirectory, withIntermediateDirectories: true)
    } catch {
      throw FaultToleranceActionError.failed(
        "cannot create \(checkpointDirectory): \(error.localizedDescription)")
    }
    _ = try mapped { try CheckpointCommand.checkpoint(vm, to: file, environment: environment) }
    return file
  }

  private func mapped<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as FaultToleranceActionError {
      throw error
    } catch let error as CLIError {
      throw FaultToleranceActionError.failed(error.message)
    } catch {
      throw FaultToleranceActionError.failed("\(error)")
    }
  }

  func checkpointFile(for vm: String) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
    return "\(checkpointDirectory)/\(vm)-\(formatter.string(from: now())).checkpoint"
  }
}
