import HypervisorCore

/// One CPU's raw CPUID answers for the leaves that describe where it sits: leaf 1 (initial
/// APIC ID, logical processor count), leaf 4 (Intel deterministic cache parameters), 0xB and
/// 0x1F (Intel extended topology), 0x8000001D (AMD cache topology), 0x8000001E (AMD
/// processor topology) and 0x80000008 (AMD core count). Captured on the CPU itself, so a
/// topology builder can work from every CPU's own view.
struct CPUIdentity {
  struct Record {
    var leaf: UInt32
    var subleaf: UInt32
    var value: CPUIDLeaf
  }

  var records: [Record] = []

  func value(leaf: UInt32, subleaf: UInt32 = 0) -> CPUIDLeaf? {
    records.first { $0.leaf == leaf && $0.subleaf == subleaf }?.value
  }

  /// Runs CPUID on the calling CPU; leaves above the CPU's maximum are left out.
  static func capture() -> CPUIdentity {
    var identity = CPUIdentity()
    let maxBasic = CPUProbe.leaf(0).eax
    let maxExtended = CPUProbe.leaf(0x8000_0000).eax
    identity.add(leaf: 1, upTo: maxBasic)
    // Subleaves end at a cache type of 0 (EAX[4:0]) or a level type of 0 (ECX[15:8]).
    identity.addSubleaves(of: 4, upTo: maxBasic) { $0.eax & 0x1F == 0 }
    identity.addSubleaves(of: 0xB, upTo: maxBasic) { ($0.ecx >> 8) & 0xFF == 0 }
    identity.addSubleaves(of: 0x1F, upTo: maxBasic) { ($0.ecx >> 8) & 0xFF == 0 }
    identity.addSubleaves(of: 0x8000_001D, upTo: maxExtended) { $0.eax & 0x1F == 0 }
    identity.add(leaf: 0x8000_001E, upTo: maxExtended)
    identity.add(leaf: 0x8000_0008, upTo: maxExtended)
    return identity
  }

  private mutating func add(leaf: UInt32, upTo maximum: UInt32) {
    guard leaf <= maximum else { return }
    records.append(Record(leaf: leaf, subleaf: 0, value: CPUProbe.leaf(leaf)))
  }

  /// Every subleaf up to and including the one that ends the list (at most 16).
  private mutating func addSubleaves(
    of leaf: UInt32, upTo maximum: UInt32, endsAt isLast: (CPUIDLeaf) -> Bool
  ) {
    guard leaf <= maximum else { return }
    for subleaf in UInt32(0)..<16 {
      let value = CPUProbe.leaf(leaf, subleaf)
      records.append(Record(leaf: leaf, subleaf: subleaf, value: value))
      if isLast(value) { return }
    }
  }
}
