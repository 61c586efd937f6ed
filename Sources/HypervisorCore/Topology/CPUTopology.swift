/// One logical CPU (a hardware thread) and its place in the machine.
public struct LogicalCPU: Equatable {
  /// The hypervisor's CPU number: the position of its APIC ID in the list the topology was
  /// built from (the MADT's order; ACPI asks firmware to list the boot processor first).
  public var index: Int
  /// The x2APIC ID (the xAPIC ID on machines without x2APIC), as the MADT lists it.
  public var apicID: UInt32
  /// The package (socket) ID: the APIC ID bits above the package shift.
  public var package: Int
  /// The core ID within the package, as the APIC ID numbers it (it may have gaps).
  public var core: Int
  /// The thread's number within its core (0 for the first SMT thread).
  public var thread: Int
  /// The machine-wide core number, dense from 0 in CPU order: equal for SMT siblings.
  public var coreIndex: Int
  /// Dense group numbers of the CPUs sharing the L1 data, L2 and L3 caches (index 0, 1, 2);
  /// nil for a level the CPU does not have.
  public var cacheGroups: [Int?]
  /// The group number of the last-level cache: a CCX on AMD Zen, the package on most Intel
  /// server parts.
  public var lastLevelCacheGroup: Int
  /// 1, 2 or 3: the level `lastLevelCacheGroup` refers to.
  public var lastLevelCache: Int
  /// The NUMA node: AMD's node ID where CPUID gives one, the package otherwise.
  public var numaNode: Int
}

/// The machine's logical CPUs, built from the MADT's enabled processors and each CPU's
/// `CPUIDSnapshot`: packages, cores, SMT siblings and the CPUs that share each cache.
public struct CPUTopology: Equatable {
  public private(set) var cpus: [LogicalCPU]
  /// The layout each CPU's snapshot decoded to, by CPU index.
  public private(set) var layouts: [APICIDLayout]

  /// - Parameters:
  ///   - apicIDs: the enabled processors' APIC IDs, in the MADT's order (boot CPU first).
  ///   - snapshots: each CPU's CPUID, in the same order. A CPU past the end of the list (one
  ///     not started yet) is decoded with the last snapshot, which gives the same answer on a
  ///     machine whose CPUs are all alike: the fields are cut from the MADT's APIC ID.
  public init(apicIDs: [UInt32], snapshots: [CPUIDSnapshot]) {
    cpus = []
    layouts = []
    let fallback = snapshots.last ?? CPUIDSnapshot()
    var coreKeys: [UInt64] = []
    var cacheKeys: [[UInt64]] = [[], [], []]
    for (index, apicID) in apicIDs.enumerated() {
      let ownSnapshot = index < snapshots.count
      let cpuid = ownSnapshot ? snapshots[index] : fallback
      let layout = APICIDLayout(decoding: cpuid)
      layouts.append(layout)
      let package = CPUTopology.field(apicID, from: layout.packageShift, to: 32)
      let core = CPUTopology.field(apicID, from: layout.smtWidth, to: layout.packageShift)
      let thread = CPUTopology.field(apicID, from: 0, to: layout.smtWidth)
      let coreKey = UInt64(apicID >> min(layout.smtWidth, 31)) | UInt64(package) << 32
      let coreIndex = CPUTopology.denseIndex(of: coreKey, in: &coreKeys)
      var groups: [Int?] = [nil, nil, nil]
      var lastLevel = 0
      var lastGroup = coreIndex
      for level in 0..<3 {
        guard let shift = layout.cacheShifts.count > level ? layout.cacheShifts[level] : nil
        else { continue }
        let key = UInt64(shift >= 32 ? 0 : apicID >> shift) | UInt64(package) << 32
        let group = CPUTopology.denseIndex(of: key, in: &cacheKeys[level])
        groups[level] = group
        lastLevel = level + 1
        lastGroup = group
      }
      var node = package
      if ownSnapshot && cpuid.hasTopologyExtensions
        && CPUTopology.reportedAPICID(cpuid) == apicID
      {
        // APM Vol 3, CPUID Fn8000_001E_ECX[7:0] NodeId.
        node = Int(cpuid.amdTopology.ecx & 0xFF)
      } else if let nodeShift = layout.nodeShift {
        node = Int(apicID >> nodeShift)
      }
      cpus.append(
        LogicalCPU(
          index: index, apicID: apicID, package: package, core: core, thread: thread,
          coreIndex: coreIndex, cacheGroups: groups, lastLevelCacheGroup: lastGroup,
          lastLevelCache: lastLevel, numaNode: node))
    }
  }

  /// The APIC ID the CPU reports for itself: leaf 0x1F or 0xB EDX (x2APIC ID), AMD
  /// 0x8000001E EAX (extended APIC ID), or leaf 1 EBX[31:24] (initial APIC ID).
  public static func reportedAPICID(_ cpuid: CPUIDSnapshot) -> UInt32 {
    if let level = cpuid.extendedTopologyV2.first, level.ebx & 0xFFFF != 0 { return level.edx }
    if let level = cpuid.extendedTopology.first, level.ebx & 0xFFFF != 0 { return level.edx }
    if cpuid.hasTopologyExtensions && cpuid.extendedMaximum.eax >= 0x8000_001E {
      return cpuid.amdTopology.eax
    }
    return cpuid.leaf1.ebx >> 24
  }

  private static func field(_ apicID: UInt32, from low: UInt32, to high: UInt32) -> Int {
    guard low < 32, high > low else { return 0 }
    let bits = min(high, 32) - low
    let mask: UInt32 = bits >= 32 ? ~0 : (1 << bits) - 1
    return Int(apicID >> low & mask)
  }

  private static func denseIndex(of key: UInt64, in keys: inout [UInt64]) -> Int {
    if let found = keys.firstIndex(of: key) { return found }
    keys.append(key)
    return keys.count - 1
  }

  public var count: Int { cpus.count }

  public subscript(index: Int) -> LogicalCPU { cpus[index] }

  /// The CPU with this APIC ID, if the machine has one.
  public func cpu(withAPICID apicID: UInt32) -> Int? {
    cpus.firstIndex { $0.apicID == apicID }
  }

  /// The other SMT threads of `cpu`'s core (empty without SMT).
  public func siblings(of cpu: Int) -> [Int] {
    threads(ofCoreOf: cpu).filter { $0 != cpu }
  }

  /// Every thread of `cpu`'s core, `cpu` included, in CPU order.
  public func threads(ofCoreOf cpu: Int) -> [Int] {
    let core = cpus[cpu].coreIndex
    return cpus.filter { $0.coreIndex == core }.map { $0.index }
  }

  /// The CPUs sharing `cpu`'s last-level cache, `cpu` included, in CPU order.
  public func cpus(sharingLastLevelCacheWith cpu: Int) -> [Int] {
    let group = cpus[cpu].lastLevelCacheGroup
    return cpus.filter { $0.lastLevelCacheGroup == group }.map { $0.index }
  }

  /// The CPUs sharing `cpu`'s cache of `level` (1 = L1 data, 2, 3), `cpu` included.
  public func cpus(sharingLevel level: Int, cacheWith cpu: Int) -> [Int] {
    guard level >= 1 && level <= 3, let group = cpus[cpu].cacheGroups[level - 1] else {
      return [cpu]
    }
    return cpus.filter { $0.cacheGroups[level - 1] == group }.map { $0.index }
  }

  /// The package IDs, ascending.
  public var packages: [Int] { distinct(cpus.map { $0.package }) }

  /// The NUMA node IDs, ascending.
  public var numaNodes: [Int] { distinct(cpus.map { $0.numaNode }) }

  /// The number of last-level cache groups.
  public var lastLevelCacheGroupCount: Int {
    (cpus.map { $0.lastLevelCacheGroup }.max() ?? -1) + 1
  }

  /// The number of cores (SMT siblings counted once).
  public var coreCount: Int { (cpus.map { $0.coreIndex }.max() ?? -1) + 1 }

  /// The CPUs of `package`, in CPU order.
  public func cpus(inPackage package: Int) -> [Int] {
    cpus.filter { $0.package == package }.map { $0.index }
  }

  private func distinct(_ values: [Int]) -> [Int] {
    var result: [Int] = []
    for value in values where !result.contains(value) { result.append(value) }
    return result.sorted()
  }

  /// "cpu 3: apic 6, package 0 core 3 thread 0, L3 group 0", for the boot log.
  public func description(of cpu: Int) -> [UInt8] {
    let entry = cpus[cpu]
    var line: [UInt8] = Array("cpu ".utf8)
    appendDecimalNumber(entry.index, to: &line)
    line += Array(": apic ".utf8)
    appendDecimalNumber(Int(entry.apicID), to: &line)
    line += Array(", package ".utf8)
    appendDecimalNumber(entry.package, to: &line)
    line += Array(" core ".utf8)
    appendDecimalNumber(entry.core, to: &line)
    line += Array(" thread ".utf8)
    appendDecimalNumber(entry.thread, to: &line)
    if entry.lastLevelCache > 0 {
      line += [UInt8(ascii: ","), UInt8(ascii: " "), UInt8(ascii: "L")]
      line.append(UInt8(ascii: "0") + UInt8(entry.lastLevelCache))
      line += Array(" group ".utf8)
      appendDecimalNumber(entry.lastLevelCacheGroup, to: &line)
    }
    if entry.numaNode != entry.package {
      line += Array(", node ".utf8)
      appendDecimalNumber(entry.numaNode, to: &line)
    }
    return line
  }
}
