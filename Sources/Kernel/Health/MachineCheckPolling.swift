import CArch
import HypervisorCore

/// Each CPU polls its own machine-check banks (SDM 3B §15.5, "polling" of corrected
/// errors; QEMU offers no CMCI) from its scheduler loop, and idle CPUs wake for it. The
/// state is the CPU's own (`PhysicalCPU.machineChecks`); CPU 0 reads it under the CPU's
/// lock to answer node-info (docs/node-health.md).
enum MachineCheckPolling {
  /// One poll a second: a bank read is one RDMSR per bank (10 under QEMU), so this costs
  /// nothing beside a 10 ms slice, and a sickening part shows within a second.
  static let periodMilliseconds: UInt64 = 1000

  static func millisecondsSinceBoot() -> UInt64 {
    arch_rdtsc() / max(LocalAPIC.tscPerMillisecond, 1)
  }

  /// Reads IA32_MCG_CAP, reports what a previous boot left in the banks, enables every bank
  /// (§15.8). Runs once on each CPU, on the CPU itself; without CPUID.01H:EDX.MCE (bit 7)
  /// and MCA (bit 14) the MSRs do not exist (#GP) and the CPU does not poll.
  static func start(on cpu: PhysicalCPU) {
    let features = arch_cpuid(1, 0).edx
    guard features >> 7 & 1 == 1, features >> 14 & 1 == 1 else {
      if cpu.index == 0 { Log.info("machine check: no MCA on this CPU model; not polling") }
      return
    }
    let capabilities = MachineCheckCapabilities(arch_rdmsr(MachineCheckRegisters.capabilities))
    var monitor = MachineCheckMonitor(cpu: cpu.index, capabilities: capabilities)
    report(monitor.poll(now: millisecondsSinceBoot(), read: arch_rdmsr, write: arch_wrmsr))
    monitor.enable(write: arch_wrmsr)
    // CR4.MCE stays clear: the hypervisor has no #MC handler yet, so an uncorrected error
    // shuts the machine down (QEMU: a reset) rather than entering an unprepared handler.
    if cpu.index == 0 {
      guard Log.begin(.info) else { return publish(monitor, on: cpu) }
      Console.write("machine check: ")
      Console.write(decimal: UInt64(monitor.bankCount))
      Console.write(" banks per CPU, MCG_CTL ")
      Console.write(capabilities.hasGlobalControl ? "yes" : "no")
      Console.write(", CMCI ")
      Console.write(capabilities.hasCMCI ? "yes" : "no")
      Console.write("; polled every ")
      Console.write(decimal: periodMilliseconds)
      Console.write(" ms")
      Log.end()
    }
    publish(monitor, on: cpu)
  }

  private static func publish(_ monitor: MachineCheckMonitor, on cpu: PhysicalCPU) {
    cpu.machineCheckLock.withLock { cpu.machineChecks = monitor }
    cpu.machineCheckPollDue = arch_rdtsc() &+ periodMilliseconds &* LocalAPIC.tscPerMillisecond
  }

  /// Polls this CPU's banks when the period has passed.
  static func pollIfDue(on cpu: PhysicalCPU) {
    guard let due = cpu.machineCheckPollDue, arch_rdtsc() >= due else { return }
    cpu.machineCheckPollDue = arch_rdtsc() &+ periodMilliseconds &* LocalAPIC.tscPerMillisecond
    let now = millisecondsSinceBoot()
    let found = cpu.machineCheckLock.withLock {
      cpu.machineChecks?.poll(now: now, read: arch_rdmsr, write: arch_wrmsr) ?? []
    }
    report(found)
  }

  /// Corrected errors are logged as information, uncorrected ones as errors (loudly: the
  /// processor did not fix them and PCC says whether this CPU's context survived).
  private static func report(_ records: [MachineCheckRecord]) {
    for record in records {
      let status = record.status
      guard Log.begin(status.uncorrected ? .error : .info) else { continue }
      Console.write(
        status.uncorrected
          ? "machine check: UNCORRECTED error on CPU " : "machine check: corrected error on CPU ")
      Console.write(decimal: UInt64(record.cpu))
      Console.write(" bank ")
      Console.write(decimal: UInt64(record.bank))
      Console.write(" status ")
      Console.write(hex: status.raw, digits: 16)
      if status.addressValid {
        Console.write(" addr ")
        Console.write(hex: record.address)
      }
      if status.miscValid {
        Console.write(" misc ")
        Console.write(hex: record.misc)
      }
      if status.overflow { Console.write(" (overflow: errors were lost)") }
      if status.contextCorrupt { Console.write(" (processor context corrupt)") }
      Log.end()
    }
  }
}
