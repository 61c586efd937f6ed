import HypervisorCore

/// Which CPU runs each vCPU of a VM: the least loaded online CPUs, so a VM's vCPUs spread
/// over distinct cores where there are enough.
enum Placement {
  static func cpus(for vm: VirtualMachine, among online: [PhysicalCPU]) -> [PhysicalCPU] {
    var load = online.map { cpu in cpu.runQueue.count + cpu.pendingAdoptions }
    var chosen: [PhysicalCPU] = []
    for _ in vm.vcpus {
      var best = 0
      for index in load.indices where load[index] < load[best] { best = index }
      load[best] += 1
      online[best].pendingAdoptions += 1
      chosen.append(online[best])
    }
    return chosen
  }
}
