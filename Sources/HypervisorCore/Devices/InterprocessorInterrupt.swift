/// An interprocessor interrupt a local APIC was asked to send: a write of the low ICR in
/// xAPIC mode, or of the 64-bit ICR MSR in x2APIC mode (SDM 3A §11.6.1, Figure 11-12;
/// §11.12.9, Figure 11-28). The APIC only describes it; the VM routes it to the target
/// vCPUs (IPIRouting), which receive it as a request (VirtualCPU.post), so no APIC reaches
/// into another vCPU's state.
public struct InterprocessorInterrupt: Equatable {
  /// ICR bits 10:8 with the level (14) and trigger mode (15) flags.
  public enum Delivery: Equatable {
    /// 000b fixed, and 001b lowest priority (to one of the destinations, §11.6.2.4).
    case fixed(vector: UInt8, lowestPriority: Bool)
    /// 100b: vector ignored, delivered as interrupt 2.
    case nmi
    /// 101b with level = 1 (assert): the targets go to wait-for-SIPI (§9.4.3, §11.6.1).
    case initSignal
    /// 110b: a target waiting for SIPI starts in real mode at `vector` << 12 (§9.4.3).
    case startup(vector: UInt8)
    /// 010b SMI, 011b/111b reserved, and INIT level de-assert (101b with level = 0 and
    /// trigger = level, §11.6.1): delivered to nobody, counted in the sender's statistics.
    case ignored(mode: UInt8)
  }

  /// ICR bits 19:18 (shorthand) with bit 11 (destination mode) and the destination field:
  /// bits 63:56 in xAPIC mode, bits 63:32 in x2APIC mode (§11.6.2, §11.12.9).
  public enum Destination: Equatable {
    case toSelf
    case allIncludingSelf
    case allExcludingSelf
    /// xAPIC physical mode: the APIC ID, 0xFF for all.
    case physical(UInt8)
    /// xAPIC logical mode: the message destination address, matched against each target's
    /// LDR and DFR (flat or cluster model, §11.6.2.2).
    case logical(UInt8)
    /// x2APIC physical mode: the x2APIC ID, 0xFFFF_FFFF for all.
    case x2APICPhysical(UInt32)
    /// x2APIC logical mode: cluster in bits 31:16, member bitmap in 15:0 (§11.12.10.2);
    /// 0xFFFF_FFFF for all.
    case x2APICLogical(UInt32)
  }

  public var delivery: Delivery
  public var destination: Destination

  public init(delivery: Delivery, destination: Destination) {
    self.delivery = delivery
    self.destination = destination
  }

  /// Decodes the xAPIC ICR; `low` is the value written to offset 0x300, `high` the one at
  /// 0x310.
  public init(low: UInt32, high: UInt32) {
    delivery = Self.delivery(low)
    let target = UInt8(truncatingIfNeeded: high >> 24)
    switch (low >> 18) & 3 {
    case 1: destination = .toSelf
    case 2: destination = .allIncludingSelf
    case 3: destination = .allExcludingSelf
    default: destination = low & (1 << 11) != 0 ? .logical(target) : .physical(target)
    }
  }

  /// Decodes the x2APIC ICR (MSR 0x830): the destination is the upper 32 bits.
  public init(x2APICCommand value: UInt64) {
    let low = UInt32(truncatingIfNeeded: value)
    let target = UInt32(truncatingIfNeeded: value >> 32)
    delivery = Self.delivery(low)
    switch (low >> 18) & 3 {
    case 1: destination = .toSelf
    case 2: destination = .allIncludingSelf
    case 3: destination = .allExcludingSelf
    default:
      destination = low & (1 << 11) != 0 ? .x2APICLogical(target) : .x2APICPhysical(target)
    }
  }

  private static func delivery(_ low: UInt32) -> Delivery {
    let vector = UInt8(truncatingIfNeeded: low)
    let mode = UInt8((low >> 8) & 7)
    switch mode {
    case 0, 1: return .fixed(vector: vector, lowestPriority: mode == 1)
    case 4: return .nmi
    case 5:
      // Level (14) = 0 with trigger mode (15) = level is INIT level de-assert, which only
      // resynchronizes arbitration IDs: nothing to deliver (§11.6.1).
      let deassert = low & (1 << 14) == 0 && low & (1 << 15) != 0
      return deassert ? .ignored(mode: mode) : .initSignal
    case 6: return .startup(vector: vector)
    default: return .ignored(mode: mode)
    }
  }
}
