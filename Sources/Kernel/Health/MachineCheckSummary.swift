import HypervisorCore

/// Every CPU's machine-check counts and recent errors, gathered for a node-info answer:
/// each CPU's monitor is read under that CPU's lock (the CPU itself writes it when it polls).
struct MachineCheckSummary {
  var corrected: UInt64 = 0
  var uncorrected: UInt64 = 0
  var recent: [MachineCheckRecord] = []

  static func collect() -> MachineCheckSummary {
    var summary = MachineCheckSummary()
    for cpu in CPUs.all {
      cpu.machineCheckLock.withLock {
        guard let monitor = cpu.machineChecks else { return }
        summary.corrected &+= monitor.corrected
        summary.uncorrected &+= monitor.uncorrected
        summary.recent += monitor.recent
      }
    }
    return summary
  }
}
