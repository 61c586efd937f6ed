/// The CPUID leaves that describe where one logical CPU sits in the machine, read on that
/// CPU at bring-up (topology leaves answer for the CPU that executes CPUID) and decoded later
/// on any CPU, or on the host from recorded fixtures.
public struct CPUIDSnapshot: Equatable {
  /// Leaf 0: EAX is the highest standard leaf; EBX, EDX, ECX the vendor string.
  public var standardMaximum: CPUIDLeaf
  /// Leaf 1: EBX[31:24] initial APIC ID, EBX[23:16] addressable logical IDs per package,
  /// EDX[28] HTT.
  public var leaf1: CPUIDLeaf
  /// Intel leaf 4, subleaves until the cache type reads 0 ("no more caches").
  public var deterministicCaches: [CPUIDLeaf]
  /// Leaf 0xB, subleaves until the level type reads 0 (Intel; AMD from Zen 2).
  public var extendedTopology: [CPUIDLeaf]
  /// Leaf 0x1F (V2 extended topology: adds module, tile and die levels), same shape.
  public var extendedTopologyV2: [CPUIDLeaf]
  /// Leaf 0x80000000: EAX is the highest extended leaf.
  public var extendedMaximum: CPUIDLeaf
  /// Leaf 0x80000001: ECX[22] TopologyExtensions on AMD (leaves 0x8000001D and 0x8000001E).
  public var extendedLeaf1: CPUIDLeaf
  /// Leaf 0x80000008: ECX[15:12] ApicIdCoreIdSize, ECX[7:0] NC on AMD.
  public var addressSizes: CPUIDLeaf
  /// AMD leaf 0x8000001D, subleaves until the cache type reads 0.
  public var amdCaches: [CPUIDLeaf]
  /// AMD leaf 0x8000001E: extended APIC ID, core ID and threads per core, node ID.
  public var amdTopology: CPUIDLeaf

  public init(
    standardMaximum: CPUIDLeaf = CPUIDLeaf(), leaf1: CPUIDLeaf = CPUIDLeaf(),
    deterministicCaches: [CPUIDLeaf] = [], extendedTopology: [CPUIDLeaf] = [],
    extendedTopologyV2: [CPUIDLeaf] = [], extendedMaximum: CPUIDLeaf = CPUIDLeaf(),
    extendedLeaf1: CPUIDLeaf = CPUIDLeaf(), addressSizes: CPUIDLeaf = CPUIDLeaf(),
    amdCaches: [CPUIDLeaf] = [], amdTopology: CPUIDLeaf = CPUIDLeaf()
  ) {
    self.standardMaximum = standardMaximum
    self.leaf1 = leaf1
    self.deterministicCaches = deterministicCaches
    self.extendedTopology = extendedTopology
    self.extendedTopologyV2 = extendedTopologyV2
    self.extendedMaximum = extendedMaximum
    self.extendedLeaf1 = extendedLeaf1
    self.addressSizes = addressSizes
    self.amdCaches = amdCaches
    self.amdTopology = amdTopology
  }

  /// Subleaves read at most, so a CPU (or emulator) that never reports the terminating
  /// subleaf cannot make the capture loop forever.
  static let maximumSubleaves: UInt32 = 16

  /// Reads the leaves on the calling CPU. `read(leaf, subleaf)` executes CPUID.
  public static func capture(read: (UInt32, UInt32) -> CPUIDLeaf) -> CPUIDSnapshot {
    var snapshot = CPUIDSnapshot()
    snapshot.standardMaximum = read(0, 0)
    let standardMaximum = snapshot.standardMaximum.eax
    if standardMaximum >= 1 { snapshot.leaf1 = read(1, 0) }
    // Leaf 4: EAX[4:0] cache type, 0 = no more caches (SDM Vol 2A, CPUID, Table 3-8).
    if standardMaximum >= 4 {
      snapshot.deterministicCaches = subleaves(of: 4, read: read) { $0.eax & 0x1F != 0 }
    }
    // Leaves 0xB and 0x1F: ECX[15:8] level type, 0 = invalid, ends the list (SDM Vol 2A).
    if standardMaximum >= 0xB {
      snapshot.extendedTopology = subleaves(of: 0xB, read: read) { $0.ecx >> 8 & 0xFF != 0 }
    }
    if standardMaximum >= 0x1F {
      snapshot.extendedTopologyV2 = subleaves(of: 0x1F, read: read) { $0.ecx >> 8 & 0xFF != 0 }
    }
    snapshot.extendedMaximum = read(0x8000_0000, 0)
    let extendedMaximum = snapshot.extendedMaximum.eax
    // An extended maximum below 0x80000000 means there are no extended leaves at all.
    guard extendedMaximum >= 0x8000_0001 && extendedMaximum <= 0x8000_FFFF else {
      return snapshot
    }
    snapshot.extendedLeaf1 = read(0x8000_0001, 0)
    if extendedMaximum >= 0x8000_0008 { snapshot.addressSizes = read(0x8000_0008, 0) }
    // APM Vol 3, CPUID Fn8000_0001_ECX[22] TopologyExtensions: Fn8000_001D and Fn8000_001E
    // are valid only when it is set.
    if snapshot.hasTopologyExtensions {
      if extendedMaximum >= 0x8000_001D {
        snapshot.amdCaches = subleaves(of: 0x8000_001D, read: read) { $0.eax & 0x1F != 0 }
      }
      if extendedMaximum >= 0x8000_001E { snapshot.amdTopology = read(0x8000_001E, 0) }
    }
    return snapshot
  }

  private static func subleaves(
    of leaf: UInt32, read: (UInt32, UInt32) -> CPUIDLeaf, while isValid: (CPUIDLeaf) -> Bool
  ) -> [CPUIDLeaf] {
    var result: [CPUIDLeaf] = []
    var subleaf: UInt32 = 0
    while subleaf < maximumSubleaves {
      let value = read(leaf, subleaf)
      guard isValid(value) else { break }
      result.append(value)
      subleaf += 1
    }
    return result
  }

  /// "AuthenticAMD" or "HygonGenuine" in leaf 0's EBX, EDX, ECX.
  public var isAMD: Bool {
    let ebx = standardMaximum.ebx
    return ebx == 0x6874_7541 /* "Auth" */ || ebx == 0x6F67_7948 /* "Hygo" */
  }

  /// APM Vol 3, CPUID Fn8000_0001_ECX[22].
  public var hasTopologyExtensions: Bool { isAMD && extendedLeaf1.ecx & (1 << 22) != 0 }
}
