/// An interprocessor interrupt a local APIC was asked to send by a write of the low ICR
/// (SDM 3A §11.6.1, Figure 11-12). The APIC only describes it; the VM routes it to the target
/// vCPUs' APICs (InterruptRouting), so no APIC reaches into another vCPU's state. Today all
/// of a VM's vCPUs share one physical CPU and the routing sets the targets' request state
/// directly; with vCPUs on several CPUs the same value becomes a request bit plus a kick.
public struct InterprocessorInterrupt: Equatable {
  /// ICR bits 10:8.
  public enum Delivery: Equatable {
    /// 000b fixed, and 001b lowest priority (to one of the destinations).
    case fixed(vector: UInt8, lowestPriority: Bool)
    /// 100b: vector ignored, delivered as interrupt 2.
    case nmi
    /// 010b SMI, 101b INIT, 110b start-up, 011b/111b reserved: not delivered by Peregrine
    /// (INIT and SIPI come with multiprocessor bring-up), but counted in the sender's
    /// statistics.
    case ignored(mode: UInt8)
  }

  /// ICR bits 19:18 (shorthand) with bit 11 (destination mode) and bits 63:56.
  public enum Destination: Equatable {
    case toSelf
    case allIncludingSelf
    case allExcludingSelf
    /// Physical mode: the APIC ID, 0xFF for all.
    case physical(UInt8)
    /// Logical mode: the message destination address, matched against each LDR/DFR.
    case logical(UInt8)
  }

  public var delivery: Delivery
  public var destination: Destination

  public init(delivery: Delivery, destination: Destination) {
    self.delivery = delivery
    self.destination = destination
  }

  /// Decodes the ICR; `low` is the value written to offset 0x300, `high` the one at 0x310.
  public init(low: UInt32, high: UInt32) {
    let vector = UInt8(truncatingIfNeeded: low)
    let mode = UInt8((low >> 8) & 7)
    switch mode {
    case 0, 1: delivery = .fixed(vector: vector, lowestPriority: mode == 1)
    case 4: delivery = .nmi
    default: delivery = .ignored(mode: mode)
    }
    let target = UInt8(truncatingIfNeeded: high >> 24)
    switch (low >> 18) & 3 {
    case 1: destination = .toSelf
    case 2: destination = .allIncludingSelf
    case 3: destination = .allExcludingSelf
    default: destination = low & (1 << 11) != 0 ? .logical(target) : .physical(target)
    }
  }
}
