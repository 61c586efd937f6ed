import CArch
import HypervisorCore
import Synchronization

/// External interrupts that reach the hypervisor itself (vector 32 and up). The hypervisor
/// runs with interrupts masked outside guests, so any that arrive are logged and counted.
enum InterruptRouting {
  static var spurious: UInt64 = 0

  /// The handler, timed for OutsideGuestClock.
  static func handle(vector: UInt8) {
    let start = arch_rdtsc()
    route(vector: vector)
    let cpu = CPUs.current
    cpu.interruptCycles &+= arch_rdtsc() &- start
  }

  private static func route(vector: UInt8) {
    if vector == LocalAPIC.timerVector {
      LocalAPIC.timerFired()
      LocalAPIC.endOfInterrupt()
      return
    }
    if vector == LocalAPIC.kickVector {
      // Another CPU posted work: the vCPU's requests are drained before its next entry;
      // inbox mail ends the slice so the scheduler takes it.
      let cpu = CPUs.current
      if cpu.hasPosted.load(ordering: .acquiring) { cpu.timer.expired = true }
      LocalAPIC.endOfInterrupt()
      return
    }
    if vector == ManagementNetwork.vector {
      ManagementNetwork.interrupt()
      LocalAPIC.endOfInterrupt()
      return
    }
    if PassthroughInterrupts.isPassthrough(vector) {
      PassthroughInterrupts.fired(vector)
      LocalAPIC.endOfInterrupt()
      return
    }
    if vector == LocalAPIC.spuriousVector { return }  // no EOI for spurious (SDM 3A §11.9)
    // A masked 8259 can still deliver its spurious IRQ 7/15 (vector base + 7, + 15).
    if vector == LegacyPIC.vectorBase + 7 || vector == LegacyPIC.vectorBase + 15 { return }
    // A real fixed interrupt on a vector nothing uses (a device forging an MSI): its ISR
    // bit must be cleared, or every lower-priority vector, the NIC's 0x40 included, stays
    // blocked behind it (SDM 3A §11.8.4); the forged-MSI case found the node deaf without it.
    LocalAPIC.endOfInterrupt()
    spurious &+= 1
    reportUnexpected(vector: vector, count: spurious, kind: "no source uses it")
  }

  /// A vector nothing on the node raises reached CPU 0: with interrupt remapping a device
  /// cannot send one (docs/iommu.md), so it is a warning, reported on the 1st, 2nd, 4th, 8th...
  static func reportUnexpected(vector: UInt8, count: UInt64, kind: StaticString) {
    guard count & (count &- 1) == 0, Log.begin(.warning) else { return }
    Console.write("unexpected interrupt, vector ")
    Console.write(hex: UInt64(vector))
    Console.write(" (")
    Console.write(kind)
    Console.write("), ")
    Console.write(decimal: count)
    Console.write(" so far")
    Log.end()
  }
}
