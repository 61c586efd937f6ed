import HypervisorCore
import PCI
import Synchronization

/// Host vectors for passed-through functions' MSI and MSI-X (docs/passthrough.md): a pool of
/// `count` node vectors from `firstVector`; a function with MSI gets one, a function with
/// MSI-X one per table entry (up to `entriesPerFunction`). The device's real MSI capability
/// or MSI-X table is programmed to send those vectors to CPU 0 (fixed, edge, physical; SDM
/// 3A §11.11; the message composed by `MSIXCapability.message` only). The handler
/// (`InterruptRouting`) calls `fired`, which sends the message the guest programmed into its
/// virtual capability or table entry (`PassthroughPCIFunction.deliverMSI`/`deliver(entry:)`)
/// to the guest's vCPU. A function keeps its vectors until it is reset after its VM ends.
enum PassthroughInterrupts {
  static let firstVector: UInt8 = 0x48
  /// 0x48-0x87: above the management NIC's 0x40, far below the kick vector 0xF2.
  static let count = 64
  /// An MSI-X table's entries past this many stay masked in the device (virtio-net with
  /// one queue pair uses 3, an NVMe VF 2 to 5).
  static let entriesPerFunction = 32
  /// By vector index: the host function, the guest's view, and the MSI-X entry (nil: MSI).
  /// Read by the interrupt handler under `lock`; the guest view is retained until the
  /// function is reset.
  nonisolated(unsafe) private static var slots:
    [(function: PassthroughFunction, guest: PassthroughPCIFunction, entry: Int?)?] = Array(
      repeating: nil, count: count)
  private static let lock = TicketLock()
  /// Interrupts that reached `fired` on a vector no function holds.
  static let stray = Atomic<UInt64>(0)

  static func isPassthrough(_ vector: UInt8) -> Bool {
    vector >= firstVector && vector < firstVector + UInt8(count)
  }

  /// `wanted` free vectors for `function` (nil entries: MSI), all or none.
  private static func allocate(
    _ function: PassthroughFunction, guest: PassthroughPCIFunction, entries: [Int?]
  ) -> [UInt8]? {
    lock.withLock {
      let free = slots.indices.filter { slots[$0] == nil }
      guard free.count >= entries.count else { return nil }
      var vectors: [UInt8] = []
      for (index, entry) in zip(free, entries) {
        slots[index] = (function, guest, entry)
        vectors.append(firstVector + UInt8(index))
      }
      return vectors
    }
  }

  /// Vectors free now (for the refusal's line).
  static var freeCount: Int { lock.withLock { slots.filter { $0 == nil }.count } }

  /// The node's message for `vector` on CPU 0 from `requester`: remappable through an entry
  /// naming the function when the IOMMU remaps interrupts (`HostMSI`); nil when no entry
  /// was left.
  private static func message(_ vector: UInt8, requester: RequesterID) -> (
    address: UInt64, data: UInt32
  )? {
    HostMSI.message(
      vector: vector, apicID: UInt8(truncatingIfNeeded: CPUs.all[0].apicID),
      requester: requester)
  }

  /// Gives `guest` a vector and points the host function's MSI at it; the vector, or nil
  /// when every vector is taken or the function has no MSI capability.
  static func route(
    _ function: PassthroughFunction, guest: PassthroughPCIFunction, found: PCIFunction
  )
    -> UInt8?
  {
    guard let capability = found.capabilities.first(where: { $0.id == PCICapability.msi }),
      let vector = allocate(function, guest: guest, entries: [nil])?.first
    else { return nil }
    guard let message = message(vector, requester: found.requester) else {
      release(function)
      return nil
    }
    // §6.8.1: control at +2 (bit 7: 64-bit address), address at +4, upper address at +8
    // when 64-bit, data right after; one message (MME 0), then enable (bit 0).
    let space = found.space
    let offset = capability.offset
    let control = space.read16(offset + 2)
    space.write32(offset + 4, UInt32(truncatingIfNeeded: message.address))
    if control & 0x80 != 0 {
      space.write32(offset + 8, 0)
      space.write16(offset + 12, UInt16(truncatingIfNeeded: message.data))
    } else {
      space.write16(offset + 8, UInt16(truncatingIfNeeded: message.data))
    }
    space.write16(offset + 2, control & ~0x70 | 1)
    return vector
  }

  /// Gives each of the first `entriesPerFunction` entries of the function's MSI-X table a
  /// vector, writes the node's messages into the device's real table, every entry masked
  /// (`PassthroughPCIFunction.routeHostVectors`: the guest's masks are mirrored from then
  /// on), then enables MSI-X in the real capability with the function unmasked (§6.8.2.3).
  /// The vectors (first and count), or nil when the pool has too few left: the caller
  /// refuses the VM, since a guest whose MSI-X never fires would hang its driver.
  /// Memory decoding must be on (the table is in a BAR).
  static func routeMSIX(
    _ function: PassthroughFunction, guest: PassthroughPCIFunction, found: PCIFunction
  ) -> [UInt8]? {
    guard let msix = guest.description.msix,
      let capability = found.capabilities.first(where: { $0.id == PCICapability.msiX })
    else { return [] }
    let entries = min(msix.tableSize, entriesPerFunction)
    guard let vectors = allocate(function, guest: guest, entries: (0..<entries).map { $0 })
    else { return nil }
    let messages = vectors.compactMap { message($0, requester: found.requester) }
    guard messages.count == vectors.count else {
      release(function)
      return nil
    }
    guest.routeHostVectors(messages)
    let space = found.space
    let control = space.read16(capability.offset + 2)
    space.write16(capability.offset + 2, (control | 1 << 15) & ~(1 << 14))
    return vectors
  }

  /// The function was reset after its VM ended: its vectors and its interrupt-remapping
  /// entries are free (its MSI and MSI-X enables were cleared and its real MSI-X entries
  /// masked by the quiesce first).
  static func release(_ function: PassthroughFunction) {
    lock.withLock {
      for index in slots.indices where slots[index]?.function == function { slots[index] = nil }
    }
    HostMSI.release(
      requester: RequesterID(
        bus: function.bus, device: function.device, function: function.function))
  }

  /// Interrupt context (CPU 0, interrupts masked): the function holding `vector` raised
  /// its MSI or one of its MSI-X entries.
  static func fired(_ vector: UInt8) {
    let index = Int(vector - firstVector)
    let slot = lock.withLock { slots[index] }
    guard let slot else {
      let count = stray.wrappingAdd(1, ordering: .relaxed).newValue
      InterruptRouting.reportUnexpected(vector: vector, count: count, kind: "no function holds it")
      return
    }
    if let entry = slot.entry {
      slot.guest.deliver(entry: entry)
    } else {
      slot.guest.deliverMSI()
    }
  }
}
