import Synchronization

/// One event of a vCPU's flight recorder: what happened (`kind`), a small `detail` (an exit
/// kind, a vector, request bits, a count, a CPU index) and a 64-bit `value` (a RIP, a count),
/// at host TSC `tsc`. `sequence` numbers a recorder's events from 0.
public struct FlightEvent: Equatable {
  public enum Kind: UInt8 {
    /// An exit that reached the handlers (ExitAccounting): `detail` the ExitKind, `value` the
    /// RIP it exited at. The world switch's fast path records nothing.
    case exit = 1
    /// A slice starts: `detail` the physical CPU.
    case slice
    /// The slice ended with the vCPU halted (HLT with IF = 1): `detail` the physical CPU.
    case halted
    /// A halted vCPU made runnable by its CPU: `detail` the vector it can take (0x100: an
    /// NMI, 0x200: an 8259 vector), `value` the physical CPU.
    case woken
    /// SVM: `detail` the vector offered as V_IRQ for the next entry.
    case offer
    /// The offered vector was taken by the guest (ISR).
    case offerTaken
    /// VT-x (and an 8259 vector): `detail` the vector injected with the next entry.
    case inject
    /// Another CPU (or this one) posted requests: `detail` the request bits, `value` the
    /// vector for an interrupt post, else 0x100.
    case post
    /// The owner CPU took requests: `detail` the request bits taken.
    case drain
    /// A posted vector moved into IRR: `detail` the vector.
    case irr
    /// The vCPU left its VM's awake count (AwakeVCPUs): `value` the count left.
    case asleep
    /// It came back into the count (a post found it judged asleep): `value` the count.
    case awake
    /// SVM: `detail` the vector not offered for this entry because the exit came inside an
    /// interrupt shadow, which is single-stepped first (InterruptDelivery.interruptShadow).
    case held
  }

  public var sequence: UInt64
  public var tsc: UInt64
  public var kind: Kind
  public var detail: UInt64
  public var value: UInt64

  public init(sequence: UInt64, tsc: UInt64, kind: Kind, detail: UInt64, value: UInt64) {
    self.sequence = sequence
    self.tsc = tsc
    self.kind = kind
    self.detail = detail
    self.value = value
  }

  /// Short names for the console dump (docs/smp.md, "Flight recorder").
  public var kindName: StaticString {
    switch kind {
    case .exit: return "exit"
    case .slice: return "slice"
    case .halted: return "halted"
    case .woken: return "woken"
    case .offer: return "offer"
    case .offerTaken: return "taken"
    case .inject: return "inject"
    case .post: return "post"
    case .drain: return "drain"
    case .irr: return "irr"
    case .asleep: return "asleep"
    case .awake: return "awake"
    case .held: return "held"
    }
  }
}

/// A vCPU's flight recorder: a fixed ring of its last `capacity` events (exits, slices,
/// HLT decisions, interrupt offers and posts, request drains, awake-count changes), always
/// on, dumped when its VM stops abnormally (docs/smp.md). No allocation after `init`.
///
/// Any CPU may record (a post comes from the sender's CPU): a writer claims a slot with one
/// atomic add on `head`, marks it invalid, writes it and then stamps it with its sequence
/// number. A reader takes each slot whose stamp is the sequence it expects, before and after
/// reading it: a slot being written, or overwritten by a later lap, is left out. Racy reads
/// are the point (the dump runs while other CPUs may still record); nothing is ever read
/// from outside the ring's memory.
public final class FlightRecorder {
  public static let capacity = 64
  static let mask = UInt64(capacity - 1)
  static let invalid = UInt64.max

  /// Per slot: stamp (the sequence), tsc, kind | detail << 8, value.
  private let slots: UnsafeMutablePointer<UInt64>
  private let head = Atomic<UInt64>(0)

  public init() {
    slots = .allocate(capacity: Self.capacity * 4)
    slots.initialize(repeating: Self.invalid, count: Self.capacity * 4)
  }

  deinit { slots.deallocate() }

  /// The host's TSC, for events recorded where none was read already (the kernel sets it
  /// before the vCPU first runs; nil in host tests, where such events carry 0).
  public var clock: (any FlightClock)?

  /// Events recorded so far (the next sequence number).
  public var recorded: UInt64 { head.load(ordering: .relaxed) }

  /// Records one event. `detail` keeps its low 56 bits.
  @inline(__always)
  public func record(_ kind: FlightEvent.Kind, detail: UInt64 = 0, value: UInt64 = 0, tsc: UInt64) {
    let sequence = head.wrappingAdd(1, ordering: .relaxed).oldValue
    let slot = slots + Int(truncatingIfNeeded: (sequence & Self.mask) << 2)
    slot[0] = Self.invalid
    slot[1] = tsc
    slot[2] = UInt64(kind.rawValue) | detail << 8
    slot[3] = value
    atomicMemoryFence(ordering: .releasing)
    slot[0] = sequence
  }

  /// Records one event at the clock's time. Out of line: off the exit path.
  @inline(never)
  public func note(_ kind: FlightEvent.Kind, detail: UInt64 = 0, value: UInt64 = 0) {
    record(kind, detail: detail, value: value, tsc: clock?.now() ?? 0)
  }

  /// The vector last noted as offered (SVM's V_IRQ), nil when none is: an offer the guest
  /// leaves pending across many entries (interrupts off, or a lower priority) is one event,
  /// not one per entry, which would cost a call and a slot each time and push everything
  /// else out of the 64-slot ring. Owner CPU only.
  private var offerNoted: UInt8?

  /// Notes `vector` as offered when it is not the offer noted last (nil: none offered).
  @inline(__always)
  public func noteOffer(_ vector: UInt8?) {
    guard vector != offerNoted else { return }
    offerNoted = vector
    if let vector { note(.offer, detail: UInt64(vector)) }
  }

  /// Notes that the guest took the offered `vector`; the next offer is noted, even of the
  /// same vector (a new request).
  public func noteOfferTaken(_ vector: UInt8) {
    offerNoted = nil
    note(.offerTaken, detail: UInt64(vector))
  }

  /// The recorded events still in the ring, oldest first; slots being written are left out.
  public func forEachEvent(_ body: (FlightEvent) -> Void) {
    let end = head.load(ordering: .acquiring)
    let start = end > UInt64(Self.capacity) ? end - UInt64(Self.capacity) : 0
    var sequence = start
    while sequence < end {
      let slot = slots + Int(truncatingIfNeeded: (sequence & Self.mask) << 2)
      let stamp = slot[0]
      atomicMemoryFence(ordering: .acquiring)
      let tsc = slot[1]
      let word = slot[2]
      let value = slot[3]
      atomicMemoryFence(ordering: .acquiring)
      if stamp == sequence && slot[0] == sequence,
        let kind = FlightEvent.Kind(rawValue: UInt8(truncatingIfNeeded: word))
      {
        body(FlightEvent(sequence: sequence, tsc: tsc, kind: kind, detail: word >> 8, value: value))
      }
      sequence += 1
    }
  }

  /// The events as an array, oldest first (host tests).
  public var events: [FlightEvent] {
    var all: [FlightEvent] = []
    forEachEvent { all.append($0) }
    return all
  }
}

/// The host TSC for the flight recorder (the kernel's RDTSC).
public protocol FlightClock: AnyObject {
  func now() -> UInt64
}
