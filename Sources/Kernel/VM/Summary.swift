import HypervisorCore

/// The last words of a run: how every VM ended and the machine's exit totals.
enum Summary {
  static func print(_ vms: [VirtualMachine]) {
    let total = ExitStatistics()
    Console.write("summary: ")
    Console.write(decimal: UInt64(vms.count))
    Console.write(vms.count == 1 ? " VM ran\n" : " VMs ran\n")
    for vm in vms {
      total.add(vm.totalStatistics())
      Console.write("summary: ")
      VMReport.vmLabel(vm)
      Console.write(": ")
      if case .stopped(let reason) = vm.state { VMReport.describe(reason) }
      Console.write("\n")
    }
    Console.write("summary: all VMs together\n")
    VMReport.statistics(total)
  }
}
