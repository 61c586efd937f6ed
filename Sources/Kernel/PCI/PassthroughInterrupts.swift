import HypervisorCore
import PCI
import Synchronization

/// Host vectors for passed-through functions' MSIs (docs/passthrough.md): each function
/// with an MSI capability gets one of `count` vectors from `firstVector`, and its real MSI
/// capability is programmed to send that vector to CPU 0 (fixed, edge, physical; SDM 3A
/// §11.11). The handler (`InterruptRouting`) calls `fired`, which sends the message the guest
/// programmed into its virtual capability (`PassthroughPCIFunction.deliverMSI`) to the
/// guest's vCPU. A function keeps its vector until it is reset after its VM ends.
enum PassthroughInterrupts {
  static let firstVector: UInt8 = 0x48
  static let count = 8
  /// By vector index: the host function and the guest's view. Read by the interrupt
  /// handler under `lock`; the guest view is retained until the function is reset.
  nonisolated(unsafe) private static var slots:
    [(function: PassthroughFunction, guest: PassthroughPCIFunction)?] = Array(
      repeating: nil, count: count)
  private static let lock = TicketLock()
  /// Interrupts that reached `fired` on a vector no function holds.
  static let stray = Atomic<UInt64>(0)

  static func isPassthrough(_ vector: UInt8) -> Bool {
    vector >= firstVector && vector < firstVector + UInt8(count)
  }

  /// Gives `guest` a vector and points the host function's MSI at it; the vector, or nil
  /// when every vector is taken or the function has no MSI capability.
  static func route(
    _ function: PassthroughFunction, guest: PassthroughPCIFunction, found: PCIFunction
  )
    -> UInt8?
  {
    guard let capability = found.capabilities.first(where: { $0.id == PCICapability.msi })
    else { return nil }
    let index: Int? = lock.withLock {
      // The same function again (a new VM) takes its old vector back.
      let chosen =
        slots.firstIndex { $0?.function == function } ?? slots.firstIndex { $0 == nil }
      if let chosen { slots[chosen] = (function, guest) }
      return chosen
    }
    guard let index else { return nil }
    let vector = firstVector + UInt8(index)
    // Remappable through an entry naming this function when the IOMMU remaps interrupts.
    guard
      let message = HostMSI.message(
        vector: vector, apicID: UInt8(truncatingIfNeeded: CPUs.all[0].apicID),
        requester: found.requester)
    else {
      lock.withLock { slots[index] = nil }
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

  /// The function was reset after its VM ended: its vector and its interrupt-remapping
  /// entries are free (its MSI enable was cleared by the reset first).
  static func release(_ function: PassthroughFunction) {
    lock.withLock {
      for index in slots.indices where slots[index]?.function == function { slots[index] = nil }
    }
    HostMSI.release(
      requester: RequesterID(
        bus: function.bus, device: function.device, function: function.function))
  }

  /// Interrupt context (CPU 0, interrupts masked): the function holding `vector` raised
  /// its MSI.
  static func fired(_ vector: UInt8) {
    let index = Int(vector - firstVector)
    let guest = lock.withLock { slots[index]?.guest }
    guard let guest else {
      let count = stray.wrappingAdd(1, ordering: .relaxed).newValue
      InterruptRouting.reportUnexpected(vector: vector, count: count, kind: "no function holds it")
      return
    }
    guest.deliverMSI()
  }
}
