import Synchronization

/// One vCPU's local APIC, in xAPIC mode on the 4 KiB page at 0xFEE0_0000 (SDM 3A §11.4,
/// Table 11-1) or in x2APIC mode through MSRs 0x800-0x8FF (§11.12, LocalAPICModel+x2APIC),
/// as IA32_APIC_BASE selects: identification, task priority, EOI, spurious vector, the in-service,
/// request and trigger-mode bitmaps, LVT entries, and the timer in one-shot, periodic and
/// TSC-deadline modes (§11.5.4) on the guest clock, and the ICR. Interrupts it raises are
/// taken by the backend's delivery path (`pendingVector`, `acknowledge`, `takeNMI`);
/// IPIs it is asked to send wait in `outgoing` for the VM to route (IPIRouting).
///
/// Owned by the CPU that runs its vCPU: only that CPU calls into it. Other CPUs deliver
/// through the vCPU's requests (`VirtualCPU.postInterrupt`, `post(.nmi)`); to match IPI
/// destinations they read only the immutable `id` and `logicalDestinationForRouting`, which
/// is published atomically.
///
/// The timer never fires more often than every `minimumTimerPeriod` of guest time (200 µs,
/// as KVM's min_timer_period_us), in one-shot and periodic modes alike: a guest programming
/// an initial count of 1 with divide-by-1 gets an interrupt every 200 µs, not a core.
public final class LocalAPICModel: MMIODevice {
  public static let base: UInt64 = 0xFEE0_0000
  /// The timer's input clock (before the divider): 1 GHz, reported to guests nowhere but
  /// measurable against the PIT like any bus clock.
  public static let busFrequency: UInt64 = 1_000_000_000

  private let clock: any GuestClock
  /// The timer's input clock for this APIC: `busFrequency`, or the guest clock's rate (the
  /// TSC's) where that is slower. A processor's bus or crystal clock never runs faster than
  /// its TSC, and guests rely on it: kvm-unit-tests' "APIC LVT timer one shot" wants an
  /// initial count of N at divide-by-1 to take at least N TSC ticks. Every processor since
  /// 2006 has a TSC of 1 GHz or more, so only an emulated one (Bochs counts its TSC at its
  /// `ips`, 100 MHz here) sees the slower rate.
  let timerFrequency: UInt64
  public let id: UInt8
  var taskPriority: UInt32 = 0
  var spurious: UInt32 = 0xFF
  private var logicalDestination: UInt32 = 0 {
    didSet { publishLogicalDestination() }
  }
  private var destinationFormat: UInt32 = 0xFFFF_FFFF {
    didSet { publishLogicalDestination() }
  }
  /// LDR[31:24] in bits 31:24, the DFR model (DFR[31:28]) in bits 3:0 and x2APIC mode in
  /// bit 4, for other CPUs' IPI and I/O APIC routing (`acceptsLogical`).
  private let routingLogicalDestination = Atomic<UInt32>(0xF)
  var errorStatus: UInt32 = 0
  var interruptCommand: (low: UInt32, high: UInt32) = (0, 0)
  /// Timer, thermal, performance, LINT0, LINT1, error: masked at reset.
  var localVectorTable: [UInt32] = [
    0x1_0000, 0x1_0000, 0x1_0000, 0x1_0000, 0x1_0000, 0x1_0000,
  ]
  var initialCount: UInt32 = 0
  var divideConfiguration: UInt32 = 0
  /// The guest-clock time the timer fires next, if armed.
  public internal(set) var deadline: UInt64?
  var periodStart: UInt64 = 0
  var inService = [UInt32](repeating: 0, count: 8)
  var requests = [UInt32](repeating: 0, count: 8)
  /// NMIs delivered to this APIC (IPIs with delivery mode NMI, I/O APIC or MSI NMIs) that
  /// the processor has not taken yet, 0 to `maximumPendingNMIs` (LocalAPICModel+NMI).
  public internal(set) var pendingNMIs: UInt8 = 0
  /// IPIs written to the ICR that the VM has not routed yet.
  public internal(set) var outgoing: [InterprocessorInterrupt] = []
  /// IA32_APIC_BASE (MSR 0x1B, SDM 3A §11.4.4, §11.12.1): the base (`mmioBase`), EN (bit
  /// 11), EXTD (bit 10, x2APIC mode) and BSP (bit 8). Changed only by `setBaseMSR`.
  public internal(set) var baseMSR: UInt64 {
    didSet { publishLogicalDestination() }  // the x2APIC mode decides logical matching
  }
  /// The 8259 pair whose INTR reaches LINT0 (vCPU 0 of a VM with `testdev=on`; nil
  /// otherwise), LocalAPICModel+ExtINT.
  public var externalInterrupts: PIC8259Pair?
  /// Told of every EOI's vector (SDM 3A §11.8.5 EOI broadcast; without a TMR every EOI
  /// is broadcast, and the I/O APIC ignores vectors of no level entry awaiting one).
  public var endOfInterruptListener: IOAPICModel?
  /// The VM's device lock when its vCPUs share device models (more than one vCPU), nil
  /// otherwise. The 8259 pair (`externalInterrupts`) and the I/O APIC's remote IRR
  /// (`endOfInterruptListener`) are VM-wide: device exits change them under this lock, so
  /// the paths here that reach them from outside an exit take it too — the INTA of the
  /// 8259's vector (interrupt delivery before an entry, the halted vCPU's wake check) and
  /// the EOI broadcast of an x2APIC EOI (a WRMSR exit; an xAPIC EOI is an MMIO exit, whose
  /// dispatcher holds the lock already). Nothing here holds another lock when taking it,
  /// and under it only vCPU requests are posted (atomics and a kick), so the documented
  /// order (device lock → switch lock → NIC receive lock, docs/smp.md) is kept.
  public var devicesLock: SharedLock?
  /// The vector offered to the processor (SVM V_IRQ) came from `externalInterrupts`.
  var offeredExternalVector: UInt8?

  /// `id` is the vCPU's index; the APIC of vCPU 0 is the bootstrap processor's.
  public init(id: UInt8, clock: any GuestClock) {
    self.id = id
    self.clock = clock
    timerFrequency = min(Self.busFrequency, max(clock.ticksPerSecond, 1))
    baseMSR = Self.base | Self.globalEnable | (id == 0 ? Self.bootstrapProcessor : 0)
  }

  /// Back to the state INIT leaves (§11.4.7.3): as at power-up, but the APIC ID and
  /// IA32_APIC_BASE (so the xAPIC or x2APIC mode) are kept.
  public func resetForINIT() {
    taskPriority = 0
    spurious = 0xFF
    logicalDestination = 0
    destinationFormat = 0xFFFF_FFFF
    errorStatus = 0
    interruptCommand = (0, 0)
    for entry in localVectorTable.indices { localVectorTable[entry] = 0x1_0000 }
    initialCount = 0
    divideConfiguration = 0
    deadline = nil
    for word in 0..<8 {
      inService[word] = 0
      requests[word] = 0
    }
    pendingNMIs = 0
    outgoing.removeAll()
  }

  private func publishLogicalDestination() {
    let x2APIC: UInt32 = baseMSR & Self.x2APICEnable != 0 ? 0x10 : 0
    routingLogicalDestination.store(
      logicalDestination & 0xFF00_0000 | destinationFormat >> 28 | x2APIC, ordering: .relaxed)
  }

  // MARK: Timer

  var timerMode: UInt32 { (localVectorTable[0] >> 17) & 3 }
  var timerMasked: Bool { localVectorTable[0] & (1 << 16) != 0 }

  /// Divide configuration bits 0, 1, 3 (§11.5.4, Figure 11-10): 2, 4, ..., 128, then 1.
  var divisor: UInt64 {
    let code = (divideConfiguration & 3) | (divideConfiguration & 8) >> 1
    return code == 7 ? 1 : 2 << UInt64(code)
  }

  private func guestTicks(busTicks: UInt64) -> UInt64 {
    let rate = clock.ticksPerSecond
    return busTicks / timerFrequency * rate + busTicks % timerFrequency * rate / timerFrequency
  }

  /// 200 µs of guest time: the shortest one-shot or periodic interval (KVM's
  /// min_timer_period_us), so that no timer programming can keep a core in interrupt exits.
  public var minimumTimerPeriod: UInt64 { max(clock.ticksPerSecond / 5_000, 1) }

  /// The programmed interval in guest ticks, clamped to `minimumTimerPeriod`.
  private var timerPeriod: UInt64 {
    max(guestTicks(busTicks: UInt64(initialCount) * divisor), minimumTimerPeriod)
  }

  func armCountdown() {
    guard initialCount != 0, timerMode != 2 else {
      if timerMode != 2 { deadline = nil }
      return
    }
    periodStart = clock.now
    deadline = periodStart &+ timerPeriod
  }

  /// IA32_TSC_DEADLINE (MSR 0x6E0) in TSC-deadline mode; 0 disarms.
  public func setTSCDeadline(_ value: UInt64) {
    guard timerMode == 2 else { return }
    deadline = value == 0 ? nil : value
  }

  public var tscDeadline: UInt64 { timerMode == 2 ? deadline ?? 0 : 0 }

  /// Its VM was paused for `cycles` of the clock: the timer fires as much later, with the
  /// same time left as when the VM stopped (a TSC deadline follows the vCPU's TSC offset,
  /// which the pause moved back by as much).
  public func shiftTime(by cycles: UInt64) {
    periodStart &+= cycles
    if let due = deadline { deadline = due &+ cycles }
  }

  /// Raises the timer interrupt when its deadline has passed. Call on every exit and before
  /// every entry; returns true when it raised one.
  @discardableResult
  public func pollTimer() -> Bool {
    guard let due = deadline, clock.now >= due else { return false }
    if timerMode == 1 && initialCount != 0 {
      // Missed periods collapse into one interrupt, as IRR holds one request per vector.
      let period = timerPeriod
      let missed = (clock.now - due) / period + 1
      deadline = due &+ missed * period
    } else {
      deadline = nil
    }
    if !timerMasked { request(UInt8(truncatingIfNeeded: localVectorTable[0])) }
    return true
  }

  var currentCount: UInt32 {
    guard timerMode != 2, let due = deadline, initialCount != 0 else { return 0 }
    let now = clock.now
    guard due > now else { return 0 }
    let remainingGuestTicks = due - now
    let rate = max(clock.ticksPerSecond, 1)
    let busTicks =
      remainingGuestTicks / rate * timerFrequency + remainingGuestTicks % rate
      * timerFrequency / rate
    return UInt32(truncatingIfNeeded: min(busTicks / divisor, UInt64(initialCount)))
  }

  // MARK: Interrupt state

  /// SVR bit 8 (§11.4.7.2), and the global enable of IA32_APIC_BASE (§11.4.3).
  var softwareEnabled: Bool { spurious & 0x100 != 0 && baseMSR & Self.globalEnable != 0 }

  /// Whether a logical destination (message destination address) selects this APIC: in the
  /// flat model (DFR[31:28] = 1111b) a bit of LDR[31:24]; in the cluster model (0000b) the
  /// same cluster in bits 7:4 and a common member bit in bits 3:0 (§11.6.2.2).
  /// In x2APIC mode LDR is the derived x2APIC logical ID and DFR is gone (§11.12.10.2):
  /// an 8-bit destination (the I/O APIC's, an MSI's) is cluster 0 with members 7:0, and
  /// 0xFF is a broadcast, as KVM and QEMU match it (kvm-unit-tests' ioapic, logical
  /// destination 0xD to vCPUs 0, 2 and 3 with x2APIC on; LDR read as 0 sent it nowhere).
  /// Reads only the published copy of LDR, DFR and the mode: callable from any CPU.
  public func acceptsLogical(_ destination: UInt8) -> Bool {
    let published = routingLogicalDestination.load(ordering: .relaxed)
    if published & 0x10 != 0 {
      return destination == 0xFF || acceptsX2APICLogical(UInt32(destination))
    }
    let mine = UInt8(truncatingIfNeeded: published >> 24)
    if published & 0xF == 0xF { return mine & destination != 0 }
    if destination == 0xFF { return true }  // broadcast to every cluster
    return mine & 0xF0 == destination & 0xF0 && mine & destination & 0x0F != 0
  }

  /// Takes the IPIs sent since the last call, for routing.
  public func takeOutgoing() -> [InterprocessorInterrupt] {
    defer { outgoing.removeAll() }
    return outgoing
  }

  /// Marks `vector` requested (IRR).
  public func request(_ vector: UInt8) {
    guard vector >= 16 else { return }
    requests[Int(vector >> 5)] |= 1 << UInt32(vector & 31)
  }

  static func highest(_ bits: [UInt32]) -> UInt8? {
    for word in stride(from: 7, through: 0, by: -1) where bits[word] != 0 {
      return UInt8(word * 32 + 31 - bits[word].leadingZeroBitCount)
    }
    return nil
  }

  /// CR8: TPR[7:4] (§11.8.6.1).
  public var taskPriorityClass: UInt8 { UInt8(truncatingIfNeeded: taskPriority >> 4) }

  /// MOV to CR8: TPR[7:4] = `priorityClass`, TPR[3:0] = 0 (§11.8.6.1).
  public func setTaskPriorityClass(_ priorityClass: UInt8) {
    taskPriority = UInt32(priorityClass & 0xF) << 4
  }

  /// Processor priority: the higher of TPR and the in-service class (§11.8.3.1).
  var processorPriority: UInt32 {
    let serving = Self.highest(inService).map { UInt32($0) & 0xF0 } ?? 0
    return max(taskPriority & 0xF0, serving)
  }

  /// The vector to deliver now, if any: the highest request above the processor priority.
  public var pendingVector: UInt8? {
    guard softwareEnabled, let vector = Self.highest(requests) else { return nil }
    return UInt32(vector) & 0xF0 > processorPriority ? vector : nil
  }

  /// The processor took `vector`: it moves from IRR to ISR (§11.8.4).
  public func acknowledge(_ vector: UInt8) {
    requests[Int(vector >> 5)] &= ~(1 << UInt32(vector & 31))
    inService[Int(vector >> 5)] |= 1 << UInt32(vector & 31)
  }

  func endOfInterrupt() {
    guard let vector = Self.highest(inService) else { return }
    inService[Int(vector >> 5)] &= ~(1 << UInt32(vector & 31))
    endOfInterruptListener?.endOfInterrupt(vector: vector)
  }

  // MARK: MMIO

  /// In x2APIC mode, or with the APIC globally disabled, the page is not the APIC's
  /// (§11.12.1.2: MMIO accesses do not reach the x2APIC registers): reads return all ones
  /// and writes are dropped.
  public func read(offset: UInt64, size: UInt8) -> UInt64 {
    guard mode == .xAPIC else { return UInt64.max }
    return readRegister(offset: offset)
  }

  public func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    guard mode == .xAPIC else { return .none }
    writeRegister(offset: offset, value: value)
    return .none
  }

  func readRegister(offset: UInt64) -> UInt64 {
    let register = offset & 0xFF0
    let value: UInt32
    switch register {
    case 0x20: value = UInt32(id) << 24
    case 0x30: value = 0x0005_0014  // version 0x14, 6 LVT entries
    case 0x80: value = taskPriority
    case 0xA0: value = processorPriority
    case 0xD0: value = logicalDestination
    case 0xE0: value = destinationFormat
    case 0xF0: value = spurious
    case 0x100...0x170: value = inService[Int((register - 0x100) >> 4)]
    case 0x180...0x1F0: value = 0  // all edge-triggered
    case 0x200...0x270: value = requests[Int((register - 0x200) >> 4)]
    case 0x280: value = errorStatus
    case 0x300: value = interruptCommand.low & ~(1 << 12)  // delivery status: idle
    case 0x310: value = interruptCommand.high
    case 0x320...0x370: value = localVectorTable[Int((register - 0x320) >> 4)]
    case 0x380: value = initialCount
    case 0x390: value = currentCount
    case 0x3E0: value = divideConfiguration
    default: value = 0
    }
    return UInt64(value >> UInt32((offset & 3) * 8))
  }

  func writeRegister(offset: UInt64, value: UInt64) {
    let data = UInt32(truncatingIfNeeded: value)
    switch offset & 0xFF0 {
    case 0x80: taskPriority = data & 0xFF
    case 0xB0: endOfInterrupt()
    case 0xD0: logicalDestination = data & 0xFF00_0000
    case 0xE0: destinationFormat = data | 0x0FFF_FFFF
    case 0xF0: spurious = data & 0x13FF
    case 0x280: errorStatus = 0
    case 0x300:
      // Writing the low half sends the IPI (§11.6.1); the VM routes it before the next entry.
      interruptCommand.low = data & 0x000C_CFFF
      outgoing.append(InterprocessorInterrupt(low: data, high: interruptCommand.high))
    case 0x310: interruptCommand.high = data
    case 0x320:
      // Into or out of TSC-deadline mode the timer is disarmed (SDM 3A §11.5.4.1); between
      // one-shot and periodic the count runs on: a one-shot count made periodic reloads
      // when it reaches 0, a periodic one made one-shot stops there, and a count already
      // at 0 stays there (kvm-unit-tests' apic "TMCCT" checks; processors and KVM agree).
      let wasDeadline = timerMode == 2
      localVectorTable[0] = data & 0x7_10FF
      if (timerMode == 2) != wasDeadline { deadline = nil }
    case 0x330...0x370:
      localVectorTable[Int(((offset & 0xFF0) - 0x320) >> 4)] = data & 0x1_17FF
    case 0x380:
      initialCount = data
      armCountdown()
    case 0x3E0: divideConfiguration = data & 0xB
    default: break
    }
  }
}

extension LocalAPICModel: StatefulDevice {
  /// Everything the guest can read back or that decides what it is delivered: IA32_APIC_BASE
  /// (so xAPIC or x2APIC mode), TPR, LDR, DFR, SVR, ESR, ICR, the LVT, the timer's
  /// programming and how long until it fires (guest nanoseconds), IRR, ISR and the NMIs
  /// not yet taken, 0 to 2 (SDM 3A §11.4, Table 11-1; LocalAPICModel+NMI). TMR reads 0 here (every interrupt is edge-triggered), so it
  /// holds nothing. IPIs waiting for routing are not state: the VM routes them before the
  /// next entry, so a safe point finds none.
  public struct State: Equatable {
    public var baseMSR: UInt64 = LocalAPICModel.base | LocalAPICModel.globalEnable
    public var taskPriority: UInt32 = 0
    public var spurious: UInt32 = 0xFF
    public var logicalDestination: UInt32 = 0
    public var destinationFormat: UInt32 = 0xFFFF_FFFF
    public var errorStatus: UInt32 = 0
    public var interruptCommandLow: UInt32 = 0
    public var interruptCommandHigh: UInt32 = 0
    /// Timer, thermal, performance, LINT0, LINT1, error.
    public var localVectorTable = [UInt32](repeating: 0x1_0000, count: 6)
    public var initialCount: UInt32 = 0
    public var divideConfiguration: UInt32 = 0
    /// Guest nanoseconds until the timer fires; nil when it is not armed.
    public var timerRemainingNanoseconds: UInt64?
    public var inService = [UInt32](repeating: 0, count: 8)
    public var requests = [UInt32](repeating: 0, count: 8)
    /// NMIs delivered and not yet taken: 0...`LocalAPICModel.maximumPendingNMIs`.
    public var pendingNMIs: UInt8 = 0

    public init() {}
  }

  public func save() -> State {
    var state = State()
    state.baseMSR = baseMSR
    state.taskPriority = taskPriority
    state.spurious = spurious
    state.logicalDestination = logicalDestination
    state.destinationFormat = destinationFormat
    state.errorStatus = errorStatus
    state.interruptCommandLow = interruptCommand.low
    state.interruptCommandHigh = interruptCommand.high
    state.localVectorTable = localVectorTable
    state.initialCount = initialCount
    state.divideConfiguration = divideConfiguration
    state.timerRemainingNanoseconds = deadline.map { clock.nanoseconds(until: $0) }
    state.inService = inService
    state.requests = requests
    state.pendingNMIs = pendingNMIs
    return state
  }

  /// Restores into an APIC built with the same ID. Values are masked to what the registers
  /// hold; tables of the wrong length restore the entries they have. The caller re-places
  /// the vCPU's MMIO entry (`VirtualCPU.placeLocalAPIC`): the base may have moved.
  public func restore(_ state: State) {
    var base = state.baseMSR & (Self.baseAddressMask | Self.globalEnable | Self.x2APICEnable)
    if base & Self.globalEnable == 0 { base &= ~Self.x2APICEnable }  // EN = 0, EXTD = 1: invalid
    baseMSR = base | baseMSR & Self.bootstrapProcessor
    taskPriority = state.taskPriority & 0xFF
    spurious = state.spurious & 0x13FF
    logicalDestination = state.logicalDestination & 0xFF00_0000
    destinationFormat = state.destinationFormat | 0x0FFF_FFFF
    errorStatus = state.errorStatus
    interruptCommand = (state.interruptCommandLow & 0x000C_CFFF, state.interruptCommandHigh)
    for (entry, value) in state.localVectorTable.prefix(6).enumerated() {
      localVectorTable[entry] = value & (entry == 0 ? 0x7_10FF : 0x1_17FF)
    }
    initialCount = state.initialCount
    divideConfiguration = state.divideConfiguration & 0xB
    deadline = state.timerRemainingNanoseconds.map { clock.instant(nanosecondsFromNow: $0) }
    for (word, bits) in state.inService.prefix(8).enumerated() { inService[word] = bits }
    for (word, bits) in state.requests.prefix(8).enumerated() { requests[word] = bits }
    pendingNMIs = min(state.pendingNMIs, Self.maximumPendingNMIs)
    outgoing.removeAll()
  }
}
