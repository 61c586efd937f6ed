import HypervisorCore
import Synchronization

/// What `status` tells of a VM: its state, each vCPU and the CPU it runs on, its memory,
/// uptime and paused time, and its exits per reason with the MSRs it was refused (the
/// statistics, every vCPU's together). A snapshot: taken on CPU 0 while the VM runs.
struct VMStatus {
  struct VCPU {
    let index: Int
    /// The CPU whose run queue holds it; -1 once detached.
    let hostCPU: Int
    let state: VirtualCPU.State
    let parked: Bool
    /// Host cycles spent in its slices.
    let sliceCycles: UInt64
  }

  let id: Int
  let name: [UInt8]
  let lifecycle: VMLifecycle
  let memoryBytes: UInt64
  let vcpus: [VCPU]
  /// Host cycles since it was created, and how many of them it spent paused.
  let uptimeCycles: UInt64
  let pausedCycles: UInt64
  /// Exits per reason, refused MSR accesses and the last MSR refused.
  let exits: ExitStatistics
  /// The virtio-blk device's counters; nil without a disk. Read without the device lock,
  /// like the exits: each counter is whole, the set a snapshot of one moment or so.
  let disk: VirtioBlockStatistics?

  init(_ vm: VirtualMachine, lifecycle: VMLifecycle, now: UInt64) {
    id = vm.id
    name = vm.name
    self.lifecycle = lifecycle
    memoryBytes = vm.profile.memorySize
    vcpus = vm.vcpus.map {
      VCPU(
        index: $0.index, hostCPU: $0.hostCPU.load(ordering: .acquiring), state: $0.state,
        parked: $0.parked, sliceCycles: $0.sliceCycles)
    }
    uptimeCycles = now &- vm.createdAt
    pausedCycles = vm.pausedCycles
    exits = vm.totalStatistics()
    disk = vm.diskDevice?.statistics
  }

  var totalSliceCycles: UInt64 { vcpus.reduce(0) { $0 &+ $1.sliceCycles } }

  /// One line: "vm NAME (id N): running, 16 MiB, 2 vCPUs on CPUs 0,1, up N cycles (paused
  /// N), N exits, N refused MSR accesses".
  func write() {
    Console.write("vm ")
    Console.write(bytes: name)
    Console.write(" (id ")
    Console.write(decimal: UInt64(id))
    Console.write("): ")
    Console.write(lifecycle.name)
    Console.write(", ")
    Console.write(size: memoryBytes)
    Console.write(", ")
    Console.write(decimal: UInt64(vcpus.count))
    Console.write(vcpus.count == 1 ? " vCPU on CPU " : " vCPUs on CPUs ")
    for vcpu in vcpus {
      if vcpu.index > 0 { Console.write(",") }
      if vcpu.hostCPU < 0 {
        Console.write("-")
      } else {
        Console.write(decimal: UInt64(vcpu.hostCPU))
      }
    }
    Console.write(", up ")
    Console.write(decimal: uptimeCycles)
    Console.write(" cycles (paused ")
    Console.write(decimal: pausedCycles)
    Console.write("), ")
    Console.write(decimal: exits.totalExits)
    Console.write(" exits, ")
    Console.write(decimal: exits.refusedMSRAccesses)
    Console.write(" refused MSR accesses")
  }
}
