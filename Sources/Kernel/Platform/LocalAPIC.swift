import CArch
import HypervisorCore

/// The local APIC in xAPIC mode (SDM 3A §11.4), used for the hypervisor's time slices: a
/// one-shot timer whose interrupt forces the running guest out (INTR intercept / external-
/// interrupt exiting), so VMs sharing a core take turns even if they never exit.
enum LocalAPIC {
  static let baseMSR: UInt32 = 0x1B
  static let timerVector: UInt8 = 0x20
  static let spuriousVector: UInt8 = 0xFF
  /// Sent by one hypervisor CPU to another to make it look at its requests: a vCPU in guest
  /// mode exits (external-interrupt exiting / the INTR intercept), an idle CPU leaves HLT.
  static let kickVector: UInt8 = 0xF2
  /// The same physical address on every CPU: each reaches its own APIC there.
  static var base: UInt64 = 0
  /// Timer ticks (divide by 16) per millisecond, measured against the PIT at boot.
  static var ticksPerMillisecond: UInt32 = 0
  /// Time-stamp counter ticks per millisecond, measured the same way.
  static var tscPerMillisecond: UInt64 = 0

  /// Arms the host timer for `deadline` (TSC) unless already armed for it.
  static func arm(untilTSC deadline: UInt64) {
    let cpu = CPUs.current
    guard deadline != cpu.timer.armedDeadline else { return }
    let now = arch_rdtsc()
    cpu.timer.armed(until: deadline, at: now)
    let tscTicks = deadline > now ? deadline - now : 1
    let ticks = max(tscTicks * UInt64(ticksPerMillisecond) / max(tscPerMillisecond, 1), 1)
    register(0x320).pointee = UInt32(timerVector)
    register(0x380).pointee = UInt32(min(ticks, 0xFFFF_FFFF))
  }

  /// The host timer interrupt: it ends the slice only when armed for the slice's end.
  static func timerFired() {
    CPUs.current.timer.fired(at: arch_rdtsc())
  }

  static func register(_ offset: UInt64) -> UnsafeMutablePointer<UInt32> {
    UnsafeMutablePointer<UInt32>(bitPattern: UInt(base + offset))!
  }

  /// Enables the calling CPU's APIC; every CPU runs this for itself.
  static func initialize() {
    base = arch_rdmsr(baseMSR) & 0xF_FFFF_F000
    arch_wrmsr(baseMSR, arch_rdmsr(baseMSR) | 1 << 11)  // xAPIC global enable
    register(0xF0).pointee = 0x100 | UInt32(spuriousVector)  // software enable
    register(0x3E0).pointee = 0x3  // divide by 16
    register(0x320).pointee = 1 << 16  // timer masked until a slice is armed
  }

  /// Measures the timer and the TSC against PIT channel 2 counting down 10 ms (1.193182 MHz;
  /// 8254 data sheet, mode 0, gated by port 0x61 bit 0, OUT2 read at port 0x61 bit 5).
  /// A try can only come out long, never short: whatever stalls this CPU between starting the
  /// PIT and seeing it expire (an SMI, or an emulator's thread preempted on a loaded host)
  /// adds TSC and APIC ticks to the same 10 ms. So of several tries the shortest counts.
  static func calibrate() {
    let tries = 5
    var best = PITMeasurement(tscTicks: .max, apicTicks: 0)
    for _ in 0..<tries {
      let measured = measureTenMillisecondsOfPIT()
      if measured.tscTicks < best.tscTicks { best = measured }
    }
    tscPerMillisecond = max(best.tscTicks / 10, 1)
    ticksPerMillisecond = max(best.apicTicks / 10, 1)
    if Log.begin(.info) {
      Console.write("lapic: timer at ")
      Console.write(decimal: UInt64(ticksPerMillisecond))
      Console.write(" ticks per ms (divide by 16), TSC at ")
      Console.write(decimal: tscPerMillisecond)
      Console.write(" per ms, calibrated against the PIT (shortest of ")
      Console.write(decimal: UInt64(tries))
      Console.write(" tries)")
      Log.end()
    }
  }

  private struct PITMeasurement {
    var tscTicks: UInt64
    var apicTicks: UInt32
  }

  private static func measureTenMillisecondsOfPIT() -> PITMeasurement {
    let pitTicks: UInt32 = 11_932  // 10 ms
    let gate = arch_inb(0x61) & ~0x02 & ~0x01  // speaker off, gate low
    arch_outb(0x61, gate)
    arch_outb(0x43, 0xB0)  // channel 2, low then high byte, mode 0, binary
    arch_outb(0x42, UInt8(truncatingIfNeeded: pitTicks))
    arch_outb(0x42, UInt8(truncatingIfNeeded: pitTicks >> 8))
    register(0x320).pointee = 1 << 16  // masked: count only
    register(0x380).pointee = 0xFFFF_FFFF
    let tscStart = arch_rdtsc()
    arch_outb(0x61, gate | 0x01)  // gate high: the PIT starts counting
    var spins: UInt64 = 0
    while arch_inb(0x61) & 0x20 == 0 && spins < 100_000_000 { spins += 1 }
    let elapsed = 0xFFFF_FFFF - register(0x390).pointee
    let tscTicks = arch_rdtsc() &- tscStart
    register(0x380).pointee = 0
    return PITMeasurement(tscTicks: tscTicks, apicTicks: elapsed)
  }

  /// Arms a one-shot interrupt after `milliseconds`.
  static func armSlice(milliseconds: UInt32) {
    let cpu = CPUs.current
    let now = arch_rdtsc()
    cpu.timer.sliceDeadline = now &+ tscPerMillisecond &* UInt64(milliseconds)
    cpu.timer.armed(until: cpu.timer.sliceDeadline, at: now)
    cpu.timer.expired = false
    register(0x320).pointee = UInt32(timerVector)  // one-shot, unmasked
    register(0x380).pointee = ticksPerMillisecond &* milliseconds
  }

  /// Arms the slice to end at TSC `deadline` (a gang slot's end, shared by every CPU).
  static func armSlice(untilTSC deadline: UInt64) {
    let cpu = CPUs.current
    cpu.timer.sliceDeadline = deadline
    cpu.timer.armedDeadline = 0
    cpu.timer.expired = false
    arm(untilTSC: deadline)
  }

  static func disarm() {
    register(0x380).pointee = 0
    register(0x320).pointee = 1 << 16
  }

  static func endOfInterrupt() { register(0xB0).pointee = 0 }

  // MARK: Interprocessor interrupts (SDM 3A §11.6.1)

  /// Sends a fixed interrupt to the CPU with `apicID` (physical destination, edge).
  static func sendFixed(vector: UInt8, to apicID: UInt32) {
    send(low: UInt32(vector), to: apicID)
  }

  /// INIT, level assert (delivery mode 101b, level 1, trigger level): the target resets and
  /// waits for a start-up IPI (SDM 3A §9.4.4.1).
  static func sendINIT(to apicID: UInt32) {
    send(low: 0b101 << 8 | 1 << 14 | 1 << 15, to: apicID)
  }

  /// Start-up (110b): the target starts in real mode at `page` << 12 (SDM 3A §9.4.4.1).
  static func sendStartup(page: UInt8, to apicID: UInt32) {
    send(low: 0b110 << 8 | UInt32(page), to: apicID)
  }

  /// Writes the ICR (high half first: the low write sends) and waits, bounded, until the
  /// APIC reports the IPI sent (delivery status, bit 12). Returns false on a timeout.
  @discardableResult
  static func send(low: UInt32, to apicID: UInt32) -> Bool {
    register(0x310).pointee = apicID << 24
    register(0x300).pointee = low
    var spins = 0
    while register(0x300).pointee & (1 << 12) != 0 {
      spins += 1
      if spins > 1_000_000 { return false }
      arch_pause()
    }
    return true
  }
}
