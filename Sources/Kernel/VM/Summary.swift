import HypervisorCore

/// The last words of a run: how every VM ended and the machine's exit totals.
enum Summary {
  /// `vms` are listed one by one; `quietCount` more ran quietly (a test creating hundreds),
  /// counted and added to the totals (`quietTotal`) but not listed.
  static func print(
    _ vms: [VirtualMachine], quietCount: Int = 0, quietTotal: ExitStatistics? = nil
  ) {
    let total = ExitStatistics()
    if let quietTotal { total.add(quietTotal) }
    let count = vms.count + quietCount
    Console.write("summary: ")
    Console.write(decimal: UInt64(count))
    Console.write(count == 1 ? " VM ran\n" : " VMs ran\n")
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

  /// The leak check: every frame a VM used (RAM, nested page tables, control blocks and
  /// bitmaps) is free again once all VMs ended.
  static func printFrames(before: Int) {
    Console.write("summary: physical frames free: ")
    Console.write(decimal: UInt64(before))
    Console.write(" before the VMs, ")
    Console.write(decimal: UInt64(PhysicalFrames.freeFrames))
    Console.write(" after\n")
  }
}
