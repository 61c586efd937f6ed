import CArch

/// The local APIC in xAPIC mode (SDM 3A §11.4), used for the hypervisor's time slices: a
/// one-shot timer whose interrupt forces the running guest out (INTR intercept / external-
/// interrupt exiting), so VMs sharing a core take turns even if they never exit.
enum LocalAPIC {
  static let baseMSR: UInt32 = 0x1B
  static let timerVector: UInt8 = 0x20
  static let spuriousVector: UInt8 = 0xFF
  static var base: UInt64 = 0
  /// Set by the timer interrupt; the scheduler reads and clears it.
  static var sliceExpired = false

  static func register(_ offset: UInt64) -> UnsafeMutablePointer<UInt32> {
    UnsafeMutablePointer<UInt32>(bitPattern: UInt(base + offset))!
  }

  static func initialize() {
    base = arch_rdmsr(baseMSR) & 0xF_FFFF_F000
    arch_wrmsr(baseMSR, arch_rdmsr(baseMSR) | 1 << 11)  // xAPIC global enable
    register(0xF0).pointee = 0x100 | UInt32(spuriousVector)  // software enable
    register(0x3E0).pointee = 0x3  // divide by 16
    register(0x320).pointee = 1 << 16  // timer masked until a slice is armed
  }

  /// Arms a one-shot interrupt after `ticks` timer ticks.
  static func armSlice(ticks: UInt32) {
    sliceExpired = false
    register(0x320).pointee = UInt32(timerVector)  // one-shot, unmasked
    register(0x380).pointee = ticks
  }

  static func disarm() {
    register(0x380).pointee = 0
    register(0x320).pointee = 1 << 16
  }

  static func endOfInterrupt() { register(0xB0).pointee = 0 }
}
