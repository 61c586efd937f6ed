import Synchronization

/// Per-CPU counts for the end of a run: what each CPU ran and how often it was kicked or
/// slept, so SMP costs are visible as counts (emulators.md: no instruction counts with SMP).
enum SMPReport {
  static func print() {
    for cpu in CPUs.all where cpu.online.load(ordering: .acquiring) {
      Console.write("summary: cpu ")
      Console.write(decimal: UInt64(cpu.index))
      Console.write(": ")
      Console.write(decimal: cpu.kicksReceived.load(ordering: .relaxed))
      Console.write(" kicks received, ")
      Console.write(decimal: cpu.sleeps)
      Console.write(" sleeps in HLT, ")
      Console.write(decimal: cpu.migrationsOut)
      Console.write(" vCPUs moved away\n")
    }
  }
}
