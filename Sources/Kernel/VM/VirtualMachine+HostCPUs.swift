import Synchronization
import HypervisorCore

extension VirtualMachine {
  /// Posts `reschedule` to every CPU that holds one of this VM's vCPUs (but `skipping`): it
  /// ends the slice of whatever runs there (the kick handler), so each CPU looks at its run
  /// queue now even beside a vCPU that never exits. Pause, unpause and stop use it: a parked,
  /// resumed or ended vCPU queued behind a compute-bound one would otherwise wait for that
  /// one to give up the core by itself.
  func rescheduleHostCPUs(skipping skipped: Int? = nil) {
    var cpus: [Int] = []
    for vcpu in vcpus {
      let cpu = vcpu.hostCPU.load(ordering: .acquiring)
      if cpu >= 0 && cpu < CPUs.all.count && cpu != skipped && !cpus.contains(cpu) {
        cpus.append(cpu)
      }
    }
    for cpu in cpus { CPUs.all[cpu].post(.reschedule) }
  }
}
