/// How a processor's APIC ID splits into SMT thread, core and package fields, and how many
/// low bits each cache level's sharing group spans, decoded from one `CPUIDSnapshot`.
///
/// x2APIC IDs are hierarchical: the low `smtWidth` bits number the threads of a core, the
/// bits up to `packageShift` the cores (and modules, tiles, dies) of a package, and the rest
/// the package (SDM Vol 3A §9.9.1, "Hierarchical Mapping of Shared Resources"; APM Vol 3,
/// Appendix E.5, "Multiple Processor Calculation").
public struct APICIDLayout: Equatable {
  /// Where the layout came from, for the boot log and for tests.
  public enum Source: Equatable {
    /// Leaf 0x1F (V2 extended topology).
    case extendedTopologyV2
    /// Leaf 0xB (Intel, and AMD from Zen 2).
    case extendedTopology
    /// AMD leaves 0x8000001E (threads per core) and 0x80000008 (ApicIdCoreIdSize).
    case amdTopologyExtensions
    /// Leaf 1 EBX[23:16] with leaf 4 EAX[31:26] (Intel) or 0x80000008 ECX (AMD).
    case legacy
    /// Nothing usable: every APIC ID is a core of its own in package 0.
    case none
  }

  public var source: Source
  /// APIC ID bits that number the threads of one core.
  public var smtWidth: UInt32
  /// APIC ID bits below the package ID (so `apicID >> packageShift` is the package).
  public var packageShift: UInt32
  /// For L1 data, L2 and L3 (index 0, 1, 2): APIC ID bits below the ID of the group that
  /// shares that cache, or nil where the CPU reports no such cache.
  public var cacheShifts: [UInt32?]
  /// APIC ID bits below an AMD node (a die of a multi-die package), when the CPU says.
  public var nodeShift: UInt32?

  public init(
    source: Source, smtWidth: UInt32, packageShift: UInt32, cacheShifts: [UInt32?],
    nodeShift: UInt32? = nil
  ) {
    self.source = source
    self.smtWidth = smtWidth
    self.packageShift = packageShift
    self.cacheShifts = cacheShifts
    self.nodeShift = nodeShift
  }

  /// A package shift of 32 keeps every APIC ID in package 0.
  static let wholeMachine: UInt32 = 32

  /// Decodes the layout of the CPU the snapshot was taken on.
  public init(decoding cpuid: CPUIDSnapshot) {
    let caches = APICIDLayout.cacheSharing(cpuid)
    if let levels = APICIDLayout.topologyLevels(cpuid.extendedTopologyV2) {
      self.init(
        source: .extendedTopologyV2, smtWidth: levels.smt, packageShift: levels.package,
        cacheShifts: [])
    } else if let levels = APICIDLayout.topologyLevels(cpuid.extendedTopology) {
      self.init(
        source: .extendedTopology, smtWidth: levels.smt, packageShift: levels.package,
        cacheShifts: [])
    } else if let amd = APICIDLayout.amdLevels(cpuid) {
      self.init(
        source: .amdTopologyExtensions, smtWidth: amd.smt, packageShift: amd.package,
        cacheShifts: [])
    } else if let legacy = APICIDLayout.legacyLevels(cpuid) {
      self.init(
        source: .legacy, smtWidth: legacy.smt, packageShift: legacy.package,
        cacheShifts: [])
    } else {
      self.init(
        source: .none, smtWidth: 0, packageShift: APICIDLayout.wholeMachine,
        cacheShifts: [])
    }
    if source == .none {
      // Caches are a guess here too: nothing says which IDs share them.
      cacheShifts = [0, 0, APICIDLayout.wholeMachine]
      return
    }
    // A cache cannot span packages; a reported sharing count wider than the package (a
    // virtual CPU's inconsistent CPUID) is cut to the package.
    cacheShifts = caches.map { shift in shift.map { min($0, packageShift) } }
    if cacheShifts.allSatisfy({ $0 == nil }) {
      // No cache leaves (QEMU TCG's EPYC without TopologyExtensions): assume what every
      // multi-core x86 since Nehalem and Zen has, L1 and L2 per core, L3 per package.
      cacheShifts = [smtWidth, smtWidth, packageShift]
    }
    // APM Vol 3, CPUID Fn8000_001E_ECX[10:8] NodesPerProcessor - 1: a package of several
    // nodes splits its core ID space evenly among them.
    if cpuid.hasTopologyExtensions && cpuid.extendedMaximum.eax >= 0x8000_001E {
      let nodesPerPackage = (cpuid.amdTopology.ecx >> 8 & 0x7) + 1
      let nodeBits = APICIDLayout.width(forCount: nodesPerPackage)
      if packageShift != APICIDLayout.wholeMachine && nodeBits <= packageShift - smtWidth {
        nodeShift = packageShift - nodeBits
      }
    }
  }

  /// Bits needed to number `count` items: ceil(log2(count)), 0 for 0 or 1 (the SDM's
  /// "nearest power-of-2 integer that is not smaller than" the count).
  public static func width(forCount count: UInt32) -> UInt32 {
    guard count > 1 else { return 0 }
    return 32 - UInt32((count - 1).leadingZeroBitCount)
  }

  /// Leaves 0xB and 0x1F (SDM Vol 2A, CPUID, "Extended Topology Enumeration Leaf"):
  /// EAX[4:0] is the shift to the next level's ID, ECX[15:8] the level type (1 SMT,
  /// 2 core, 3 module, 4 tile, 5 die, 6 die group). The SMT level's shift is the SMT width;
  /// the last level's shift is the package shift.
  static func topologyLevels(_ subleaves: [CPUIDLeaf]) -> (smt: UInt32, package: UInt32)? {
    // EBX[15:0] = 0 on subleaf 0 means the leaf is not supported.
    guard let first = subleaves.first, first.ebx & 0xFFFF != 0 else { return nil }
    var smt: UInt32 = 0
    var package: UInt32 = 0
    for level in subleaves {
      let shift = level.eax & 0x1F
      if level.ecx >> 8 & 0xFF == 1 { smt = shift }
      package = max(package, shift)
    }
    guard package >= smt else { return nil }
    return (smt, package)
  }

  /// AMD without leaf 0xB (Zen 1, family 15h): Fn8000_001E_EBX[15:8] ThreadsPerComputeUnit
  /// - 1, and Fn8000_0008_ECX[15:12] ApicIdCoreIdSize, the APIC ID bits that number the
  /// threads of a package (0: use NC, ECX[7:0] + 1 threads) (APM Vol 3, Appendix E.4).
  static func amdLevels(_ cpuid: CPUIDSnapshot) -> (smt: UInt32, package: UInt32)? {
    guard cpuid.hasTopologyExtensions, cpuid.extendedMaximum.eax >= 0x8000_001E,
      let package = amdPackageShift(cpuid)
    else { return nil }
    let threadsPerCore = (cpuid.amdTopology.ebx >> 8 & 0xFF) + 1
    let smt = width(forCount: threadsPerCore)
    guard smt <= package else { return nil }
    return (smt, package)
  }

  static func amdPackageShift(_ cpuid: CPUIDSnapshot) -> UInt32? {
    guard cpuid.isAMD, cpuid.extendedMaximum.eax >= 0x8000_0008 else { return nil }
    let coreIDSize = cpuid.addressSizes.ecx >> 12 & 0xF
    if coreIDSize != 0 { return coreIDSize }
    return width(forCount: (cpuid.addressSizes.ecx & 0xFF) + 1)
  }

  /// Before leaf 0xB: CPUID.1:EDX[28] HTT says EBX[23:16] holds the addressable logical IDs
  /// per package; on Intel, leaf 4 EAX[31:26] + 1 the addressable core IDs per package
  /// (SDM Vol 2A, CPUID leaf 1 and leaf 4), so the SMT width is what remains. On AMD, a
  /// core has one thread before Zen, and the package width comes from 0x80000008.
  static func legacyLevels(_ cpuid: CPUIDSnapshot) -> (smt: UInt32, package: UInt32)? {
    guard cpuid.standardMaximum.eax >= 1, cpuid.leaf1.edx & (1 << 28) != 0 else { return nil }
    let logical = cpuid.leaf1.ebx >> 16 & 0xFF
    if cpuid.isAMD {
      let package = amdPackageShift(cpuid) ?? width(forCount: logical)
      return (0, package)
    }
    let package = width(forCount: logical)
    guard let first = cpuid.deterministicCaches.first else { return (0, package) }
    let cores = width(forCount: (first.eax >> 26 & 0x3F) + 1)
    guard cores <= package else { return (0, package) }
    return (package - cores, package)
  }

  /// Leaf 4 (Intel) or 0x8000001D (AMD): EAX[7:5] cache level, EAX[4:0] type (1 data,
  /// 2 instruction, 3 unified), EAX[25:14] + 1 logical IDs sharing the cache; the group is
  /// the nearest power of two not below it (SDM Vol 2A, CPUID leaf 4, note on EAX[25:14];
  /// APM Vol 3, CPUID Fn8000_001D_EAX NumSharingCache).
  static func cacheSharing(_ cpuid: CPUIDSnapshot) -> [UInt32?] {
    let leaves = cpuid.hasTopologyExtensions ? cpuid.amdCaches : cpuid.deterministicCaches
    var shifts: [UInt32?] = [nil, nil, nil]
    for cache in leaves {
      let type = cache.eax & 0x1F
      let level = cache.eax >> 5 & 0x7
      let sharing = (cache.eax >> 14 & 0xFFF) + 1
      let slot: Int
      switch (level, type) {
      case (1, 1), (1, 3): slot = 0
      case (2, 1), (2, 3): slot = 1
      case (3, 1), (3, 3): slot = 2
      default: continue
      }
      shifts[slot] = width(forCount: sharing)
    }
    return shifts
  }
}
