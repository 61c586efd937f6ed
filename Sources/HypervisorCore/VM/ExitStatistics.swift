/// Per-vCPU counts and cycles for every exit kind, plus the events the handlers answered
/// architecturally (unhandled ports, refused MSRs, unmapped MMIO) so their cost is visible.
/// Storage is a fixed block allocated once: counting an exit is two adds on the hot path.
public final class ExitStatistics {
  private let counts: UnsafeMutablePointer<UInt64>
  private let cycles: UnsafeMutablePointer<UInt64>
  /// Of `counts`, the exits the world switch served itself (exit_fast_path.h): no cycles.
  private let fastCounts: UnsafeMutablePointer<UInt64>
  public var unhandledPortReads: UInt64 = 0
  public var unhandledPortWrites: UInt64 = 0
  public var refusedMSRAccesses: UInt64 = 0
  /// The last MSR refused, for the report: what a guest keeps asking for.
  public var lastRefusedMSR: UInt32 = 0
  public var unmappedMMIOAccesses: UInt64 = 0
  /// Exits whose instruction, as read from guest memory, was not one that causes that exit
  /// (an opcode that does not match, or a memory operand at another address): the guest ran
  /// other bytes than its page tables now show (a stale TLB). Nothing was emulated; the guest
  /// re-executed the instruction.
  public var decodeMismatches: UInt64 = 0
  public var injectedEvents: UInt64 = 0
  /// EOIs the guest made through its paravirtual EOI flag (ParavirtualEOI): each one an
  /// exit the EOI register would have cost.
  public var paravirtualEOIs: UInt64 = 0
  /// Cycles the vCPU spent outside its guest within its slices: from each exit to the next
  /// entry (or the slice's end), plus the host interrupt handlers that ran inside the world
  /// switch, where an interrupt that forced an exit is taken (docs/exit-path.md, "Time
  /// outside the guest"). The per-reason cycles above cover only the handlers.
  public var outsideGuestCycles: UInt64 = 0
  /// The part of `outsideGuestCycles` in the host's interrupt handlers.
  public var hostInterruptCycles: UInt64 = 0
  /// IPIs sent with a delivery mode Peregrine does not deliver (SMI, reserved, INIT
  /// de-assert), or that selected no vCPU.
  public var ignoredInterprocessorInterrupts: UInt64 = 0
  /// INIT signals this vCPU took (each a reset to wait-for-SIPI; several posted before one
  /// drain count once), and start-up IPIs that started it or that it ignored because it was
  /// not waiting for one (SDM 3A §9.4.3): what an INIT/SIPI storm costs the target.
  public var initSignalsTaken: UInt64 = 0
  public var startupIPIsTaken: UInt64 = 0
  public var startupIPIsIgnored: UInt64 = 0

  public init() {
    counts = .allocate(capacity: ExitKind.count)
    counts.initialize(repeating: 0, count: ExitKind.count)
    cycles = .allocate(capacity: ExitKind.count)
    cycles.initialize(repeating: 0, count: ExitKind.count)
    fastCounts = .allocate(capacity: ExitKind.count)
    fastCounts.initialize(repeating: 0, count: ExitKind.count)
  }

  deinit {
    counts.deallocate()
    cycles.deallocate()
    fastCounts.deallocate()
  }

  @inline(__always)
  public func record(_ kind: ExitKind, cycles spent: UInt64) {
    counts[Int(kind.rawValue)] &+= 1
    cycles[Int(kind.rawValue)] &+= spent
  }

  /// `count` exits of `kind` the world switch served without returning to the run loop:
  /// counted under their kind, with no cycles (the fast path takes no timestamps).
  public func recordFast(_ kind: ExitKind, count: UInt64) {
    counts[Int(kind.rawValue)] &+= count
    fastCounts[Int(kind.rawValue)] &+= count
  }

  /// Of `count(kind)`, the exits served by the world switch's fast path.
  public func fastCount(_ kind: ExitKind) -> UInt64 { fastCounts[Int(kind.rawValue)] }

  public var fastExits: UInt64 {
    var total: UInt64 = 0
    for index in 0..<ExitKind.count { total &+= fastCounts[index] }
    return total
  }

  public func count(_ kind: ExitKind) -> UInt64 { counts[Int(kind.rawValue)] }

  /// Sets one kind's figures (an exit trace's replay of hypercall 2).
  public func set(_ kind: ExitKind, count: UInt64, cycles spent: UInt64) {
    counts[Int(kind.rawValue)] = count
    cycles[Int(kind.rawValue)] = spent
  }
  public func cycles(_ kind: ExitKind) -> UInt64 { cycles[Int(kind.rawValue)] }

  public var totalExits: UInt64 {
    var total: UInt64 = 0
    for index in 0..<ExitKind.count { total &+= counts[index] }
    return total
  }

  public var totalCycles: UInt64 {
    var total: UInt64 = 0
    for index in 0..<ExitKind.count { total &+= cycles[index] }
    return total
  }

  /// Adds another vCPU's figures into this one (for the per-VM and machine summaries).
  public func add(_ other: ExitStatistics) {
    for index in 0..<ExitKind.count {
      counts[index] &+= other.counts[index]
      cycles[index] &+= other.cycles[index]
      fastCounts[index] &+= other.fastCounts[index]
    }
    unhandledPortReads &+= other.unhandledPortReads
    unhandledPortWrites &+= other.unhandledPortWrites
    refusedMSRAccesses &+= other.refusedMSRAccesses
    if other.refusedMSRAccesses > 0 { lastRefusedMSR = other.lastRefusedMSR }
    unmappedMMIOAccesses &+= other.unmappedMMIOAccesses
    decodeMismatches &+= other.decodeMismatches
    injectedEvents &+= other.injectedEvents
    paravirtualEOIs &+= other.paravirtualEOIs
    outsideGuestCycles &+= other.outsideGuestCycles
    hostInterruptCycles &+= other.hostInterruptCycles
    ignoredInterprocessorInterrupts &+= other.ignoredInterprocessorInterrupts
    initSignalsTaken &+= other.initSignalsTaken
    startupIPIsTaken &+= other.startupIPIsTaken
    startupIPIsIgnored &+= other.startupIPIsIgnored
  }
}
