import Synchronization

/// An I/O APIC (82093AA data sheet) on the page at 0xFEC0_0000: IOREGSEL at 0x00, IOWIN at
/// 0x10, identification, version, and 24 redirection entries. An edge on an input pin is
/// delivered to the vCPU(s) whose local APIC the entry names (physical or logical
/// destination), unless masked: fixed and lowest priority (to one vCPU) as the entry's
/// vector, NMI as an NMI, each through the vCPU's requests (VirtualCPU.postInterrupt,
/// post(.nmi)), so it may be raised on any CPU. SMI, INIT and ExtINT entries deliver nothing.
/// A pulse (`raise`, the UART and virtio INTx) is delivered once per pulse whatever the
/// entry's trigger mode. Lines driven by level (`setLevel`, the pc-testdev's) follow the
/// entry: edge entries deliver on a rising edge; level entries (bit 15) deliver while the
/// line is high and remote IRR (bit 14) is clear, set remote IRR, and deliver again after
/// the EOI that clears it if the line is still high (82093AA §3.2.4). Remote IRR is
/// cleared by the EOI register (offset 0x40, version 0x20) and by the local APICs' EOI
/// broadcast (SDM 3A §11.8.5; `endOfInterrupt(vector:)`).
public final class IOAPICModel: MMIODevice {
  public static let base: UInt64 = 0xFEC0_0000
  public static let pinCount = 24

  /// IOAPICID bits 27:24, the only writable bits of register 0; the arbitration ID
  /// (register 2, read-only) follows it (82093AA §3.2.1, §3.2.3).
  public private(set) var id: UInt8
  private var select: UInt32 = 0
  private var entries = [UInt64](repeating: 1 << 16, count: IOAPICModel.pinCount)  // masked
  private let vcpus: [VirtualCPU]
  /// The levels of the lines driven by `setLevel`, bit per pin.
  private var lineLevels: UInt32 = 0
  /// The pins whose remote IRR is set, bit per pin: published for the vCPUs' paravirtual
  /// EOI (`hasEntriesAwaitingEOI`), which reads it outside the device lock.
  private let awaitingEOI = Atomic<UInt32>(0)

  /// `vcpus`: the VM's vCPUs; those with a local APIC can be destinations.
  public init(id: UInt8, vcpus: [VirtualCPU]) {
    self.id = id
    self.vcpus = vcpus.filter { $0.localAPIC != nil }
  }

  /// An edge on `pin`.
  public func raise(pin: Int) {
    guard pin >= 0 && pin < Self.pinCount else { return }
    _ = deliver(pin: pin)
  }

  static let levelTriggered: UInt64 = 1 << 15
  static let remoteIRR: UInt64 = 1 << 14

  /// A line's new level: an edge entry delivers on the rising edge, a level entry while
  /// high and not awaiting its EOI.
  public func setLevel(pin: Int, high: Bool) {
    guard pin >= 0 && pin < Self.pinCount else { return }
    let bit: UInt32 = 1 << UInt32(pin)
    let wasHigh = lineLevels & bit != 0
    lineLevels = high ? lineLevels | bit : lineLevels & ~bit
    guard high else { return }
    if entries[pin] & Self.levelTriggered != 0 {
      serviceLevel(pin: pin)
    } else if !wasHigh {
      _ = deliver(pin: pin)
    }
  }

  /// A level entry whose line is high and not awaiting an EOI delivers and sets remote IRR.
  private func serviceLevel(pin: Int) {
    guard entries[pin] & (Self.levelTriggered | Self.remoteIRR) == Self.levelTriggered,
      lineLevels & (1 << UInt32(pin)) != 0, deliver(pin: pin)
    else { return }
    entries[pin] |= Self.remoteIRR
    publishAwaitingEOI()
  }

  /// Some level entry awaits an EOI: a local APIC must broadcast every EOI as it happens
  /// (LocalAPICModel.paravirtualEOITarget). Read without the device lock: a pin that
  /// starts waiting after the read only delays its EOI to the guest's next exit.
  public var hasEntriesAwaitingEOI: Bool { awaitingEOI.load(ordering: .relaxed) != 0 }

  private func publishAwaitingEOI() {
    var pins: UInt32 = 0
    for pin in 0..<Self.pinCount where entries[pin] & Self.remoteIRR != 0 {
      pins |= 1 << UInt32(pin)
    }
    awaitingEOI.store(pins, ordering: .relaxed)
  }

  /// An EOI for `vector` (the EOI register, or a local APIC's broadcast): every level entry
  /// with that vector and remote IRR set has it cleared, and delivers again if still high.
  public func endOfInterrupt(vector: UInt8) {
    for pin in 0..<Self.pinCount
    where entries[pin] & Self.remoteIRR != 0 && UInt8(truncatingIfNeeded: entries[pin]) == vector {
      entries[pin] &= ~Self.remoteIRR
      publishAwaitingEOI()
      serviceLevel(pin: pin)
    }
  }

  /// The VM's virtual VT-d unit (`iommu=vtd`): every unmasked entry's message goes through
  /// its interrupt remapping (VT-d spec rev 4.1 §5.1.5.1), remappable-format entries (bit
  /// 48) included. nil: entries are delivered as written.
  public var remapping: VirtualRemappingUnit?

  /// Delivers `pin`'s entry unless masked; false if nothing was delivered.
  private func deliver(pin: Int) -> Bool {
    let entry = entries[pin]
    guard entry & (1 << 16) == 0 else { return false }  // masked
    var vector = UInt8(truncatingIfNeeded: entry)
    var destination = UInt8(truncatingIfNeeded: entry >> 56)
    var logical = entry & (1 << 11) != 0
    var mode = (entry >> 8) & 7
    if let remapping {
      let message = InterruptRemappingLookup.message(ofRedirectionEntry: entry)
      switch remapping.remap(address: message.address, data: message.data, requester: nil) {
      case .unchanged: break
      case .remapped(let target):
        (vector, destination, logical) = (target.vector, target.destination, target.logical)
        mode = UInt64(target.deliveryMode)
      case .blocked: return false
      }
    }
    guard mode <= 1 || mode == 4 else { return false }  // fixed, lowest priority, NMI
    var delivered = false
    for vcpu in vcpus {
      guard let apic = vcpu.localAPIC,
        logical ? apic.acceptsLogical(destination) : destination == 0xFF || apic.id == destination
      else { continue }
      deliver(mode: mode, vector: vector, to: vcpu)
      delivered = true
      if mode == 1 { break }  // lowest priority: one vCPU takes it
    }
    // A logical destination no APIC accepts yet (LDR still 0 early in boot) goes to the
    // first vCPU rather than nowhere.
    if !delivered, logical, let first = vcpus.first {
      deliver(mode: mode, vector: vector, to: first)
      delivered = true
    }
    return delivered
  }

  private func deliver(mode: UInt64, vector: UInt8, to vcpu: VirtualCPU) {
    if mode == 4 {
      vcpu.post(.nmi)
    } else {
      vcpu.postInterrupt(vector: vector)
    }
  }

  public func read(offset: UInt64, size: UInt8) -> UInt64 {
    switch offset {
    case 0x00: return UInt64(select)
    case 0x10: return UInt64(window(select))
    default: return 0
    }
  }

  public func write(offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    let data = UInt32(truncatingIfNeeded: value)
    switch offset {
    case 0x00: select = data & 0xFF
    case 0x10: setWindow(select, data)
    case 0x40: endOfInterrupt(vector: UInt8(truncatingIfNeeded: data))
    default: break
    }
    return .none
  }

  private func window(_ register: UInt32) -> UInt32 {
    switch register {
    case 0x00: return UInt32(id) << 24
    case 0x01: return UInt32(Self.pinCount - 1) << 16 | 0x20
    case 0x02: return UInt32(id) << 24
    case 0x10..<(0x10 + 2 * UInt32(Self.pinCount)):
      let entry = entries[Int((register - 0x10) / 2)]
      return register & 1 == 0
        ? UInt32(truncatingIfNeeded: entry) & ~(1 << 12) : UInt32(entry >> 32)
    default: return 0
    }
  }

  private func setWindow(_ register: UInt32, _ data: UInt32) {
    if register == 0x00 { id = UInt8(truncatingIfNeeded: data >> 24) & 0x0F }
    guard register >= 0x10 && register < 0x10 + 2 * UInt32(Self.pinCount) else { return }
    let pin = Int((register - 0x10) / 2)
    if register & 1 == 0 {
      // Delivery status (12) and remote IRR (14) are read-only.
      entries[pin] = entries[pin] & 0xFFFF_FFFF_0000_5000 | UInt64(data & ~0x5000)
      // Unmasked (or made level) with its line still high: delivered now.
      serviceLevel(pin: pin)
    } else {
      entries[pin] = entries[pin] & 0xFFFF_FFFF | UInt64(data) << 32
    }
  }
}

/// Something that raises an interrupt input: an I/O APIC pin.
public final class InterruptLine {
  private let controller: IOAPICModel
  public let pin: Int

  public init(controller: IOAPICModel, pin: Int) {
    self.controller = controller
    self.pin = pin
  }

  public func pulse() { controller.raise(pin: pin) }

  /// Drives the line by level (a PCI function's INTx: asserted while it wants service).
  public func setLevel(high: Bool) { controller.setLevel(pin: pin, high: high) }
}

extension IOAPICModel: StatefulDevice {
  /// IOREGSEL, the redirection table (24 entries, 82093AA §3.2.4) with each level entry's
  /// remote IRR (set between a delivery and its EOI), the IOAPICID the guest may write
  /// (§3.2.1), and the levels of the lines driven by level (the pc-testdev's), which decide
  /// whether an EOI delivers again.
  public struct State: Equatable {
    public var select: UInt32 = 0
    public var entries = [UInt64](repeating: 1 << 16, count: IOAPICModel.pinCount)
    public var id: UInt8 = 0
    public var lineLevels: UInt32 = 0

    public init() {}
  }

  public func save() -> State {
    var state = State()
    state.select = select
    state.entries = entries
    state.id = id
    state.lineLevels = lineLevels
    return state
  }

  /// Entries past the 24th are ignored; missing ones are left as they are. Nothing is
  /// delivered: a line high with remote IRR set waits for its EOI, as it did when saved.
  public func restore(_ state: State) {
    select = state.select & 0xFF
    for (pin, entry) in state.entries.prefix(Self.pinCount).enumerated() {
      entries[pin] = entry & ~0x1000  // delivery status: never set here
    }
    id = state.id & 0x0F
    lineLevels = state.lineLevels & (1 << UInt32(Self.pinCount) - 1)
    publishAwaitingEOI()
  }
}
