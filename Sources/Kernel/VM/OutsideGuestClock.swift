import CArch
import HypervisorCore

/// The time a vCPU spends outside its guest within a slice (ExitStatistics
/// .outsideGuestCycles; docs/exit-path.md, "Time outside the guest"): from the slice's
/// start to the first entry, from each exit's first RDTSC to the next entry, and from the
/// last exit to the slice's end, plus the cycles of the host's interrupt handlers during
/// the slice. Those run only inside the world switch (the hypervisor keeps interrupts
/// masked elsewhere), where an external interrupt that forced an exit is taken (SVM: at
/// STGI; VT-x: when the world switch restores the host's RFLAGS.IF), before the exit's
/// first RDTSC, so the exit's own cycles do not contain them. Not counted: the world
/// switch's own instructions (about 60 per round trip) and the exits its fast path serves.
/// Kept in a local value and added to the statistics once per slice: per exit it costs one
/// RDTSC and two additions.
struct OutsideGuestClock {
  private var lastExit: UInt64
  private var total: UInt64 = 0
  private let interruptsAtStart: UInt64

  @inline(__always)
  init(_ cpu: PhysicalCPU) {
    interruptsAtStart = cpu.interruptCycles
    lastExit = arch_rdtsc()
  }

  /// Just before the world switch.
  @inline(__always)
  mutating func entering() { total &+= arch_rdtsc() &- lastExit }

  /// Just after it, with the exit's first RDTSC.
  @inline(__always)
  mutating func exited(at exitTime: UInt64) { lastExit = exitTime }

  /// When the slice ends.
  mutating func leaving(_ cpu: PhysicalCPU, _ statistics: ExitStatistics) {
    let interrupts = cpu.interruptCycles &- interruptsAtStart
    statistics.outsideGuestCycles &+= total &+ (arch_rdtsc() &- lastExit) &+ interrupts
    statistics.hostInterruptCycles &+= interrupts
  }
}
