import HypervisorCore
import Synchronization

/// External interrupts that reach the hypervisor itself (vector 32 and up). The hypervisor
/// runs with interrupts masked outside guests, so any that arrive are logged and counted.
enum InterruptRouting {
  static var spurious: UInt64 = 0

  static func handle(vector: UInt8) {
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
    spurious &+= 1
    if Log.begin(.debug) {
      Console.write("unexpected interrupt, vector ")
      Console.write(decimal: UInt64(vector))
      Log.end()
    }
  }
}
