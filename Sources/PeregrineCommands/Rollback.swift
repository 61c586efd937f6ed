/// Undoing a create that failed midway: the VMs it already made are destroyed, newest
/// first, so a refused cluster leaves the nodes as they were. Each step is said on standard
/// error; the VMs that could not be destroyed are returned for the user to finish.
enum Rollback {
  static func destroy(_ created: [PlacedMachine], session: ClusterSession) -> [PlacedMachine] {
    guard !created.isEmpty else { return [] }
    let environment = session.environment
    environment.errors(
      "peregrine: undoing this create: destroying the \(created.count) VM(s) it made\n")
    var left: [PlacedMachine] = []
    for machine in created.reversed() {
      do {
        let node = try session.node(named: machine.node)
        let connection = try session.connection(to: node)
        try environment.request { try connection.destroyMachine(named: machine.name) }
        // Its disk is not brought back: the VM never ran as asked.
        try? DiskRecords.forget(machine.name, in: environment.state)
        environment.errors("peregrine: destroyed \(machine.name) on \(machine.node)\n")
      } catch let error as CLIError where error.status == .noSuchMachine {
        environment.errors("peregrine: \(machine.name) on \(machine.node) had already ended\n")
      } catch {
        let reason = (error as? CLIError)?.message ?? "\(error)"
        environment.errors(
          "peregrine: could not destroy \(machine.name) on \(machine.node): \(reason)\n")
        left.append(machine)
      }
    }
    if left.isEmpty {
      environment.errors("peregrine: nothing this create made is left on the nodes\n")
    }
    return left.reversed()
  }
}
