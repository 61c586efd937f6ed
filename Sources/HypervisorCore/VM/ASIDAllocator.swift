/// SVM address-space identifiers, handed out by each physical processor to the vCPUs that
/// run on it (AMD APM Vol 2 §15.16). ASID 0 is the host's; guests get 1 ..< `asidCount`
/// (CPUID Fn8000_000A EBX). A processor gives each vCPU the next unused ASID of its current
/// *generation*. When none is left it starts a new generation: every ASID becomes free
/// again, and the vCPU that starts it flushes the whole TLB (TLB_CONTROL = 1) on its next
/// VMRUN, so no translation of the old generation survives. A vCPU keeps its ASID while its
/// record names this processor and its generation; otherwise it gets a fresh one. No tag is
/// ever released: the next generation reclaims them all, so any number of VMs can run.
public struct ASIDAllocator {
  /// What a vCPU's VMCB must be given before its next VMRUN on this processor.
  public struct Assignment: Equatable {
    public var asid: UInt32
    /// The ASID changed: the VMCB's ASID field (and its clean bit) must be rewritten.
    public var isNew: Bool
    /// A new generation began with this assignment: flush every ASID's TLB entries.
    public var flushAll: Bool

    public init(asid: UInt32, isNew: Bool, flushAll: Bool) {
      self.asid = asid
      self.isNew = isNew
      self.flushAll = flushAll
    }
  }

  /// Which processor's ASID a vCPU holds, from which generation: kept per vCPU (with its
  /// VMCB), never per VM.
  public struct Record: Equatable {
    public var processor: Int = -1
    public var generation: UInt64 = 0
    public var asid: UInt32 = 0

    public init() {}
  }

  public let processor: Int
  /// One more than the highest ASID this processor hands out.
  public let limit: UInt32
  public private(set) var generation: UInt64 = 0
  private var next: UInt32

  /// `asidCount` as CPUID reports it (the host's ASID 0 included). Nil when the processor
  /// has no ASID to give a guest.
  public init?(processor: Int, asidCount: UInt32) {
    guard asidCount >= 2 else { return nil }
    self.processor = processor
    limit = asidCount
    // Exhausted from the start: the first assignment opens generation 1 with a full flush,
    // so whatever the TLB held before (firmware, an earlier boot) is gone.
    next = asidCount
  }

  /// The ASID `record`'s vCPU runs with next on this processor; updates the record.
  public mutating func assign(_ record: inout Record) -> Assignment {
    if record.processor == processor && record.generation == generation && record.asid != 0 {
      return Assignment(asid: record.asid, isNew: false, flushAll: false)
    }
    var flushAll = false
    if next >= limit {
      generation &+= 1
      next = 1
      flushAll = true
    }
    record = Record()
    record.processor = processor
    record.generation = generation
    record.asid = next
    next += 1
    return Assignment(asid: record.asid, isNew: true, flushAll: flushAll)
  }

  /// ASIDs still unused in this generation.
  public var remainingInGeneration: UInt32 { limit - next }
}
