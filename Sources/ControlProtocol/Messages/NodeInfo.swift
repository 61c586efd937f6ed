/// The answer to `nodeInfo`: what `peregrine nodes` shows.
public struct NodeInfo: Equatable {
  public enum Backend: UInt8, Equatable, CaseIterable {
    case svm = 1
    case vmx = 2
  }

  public enum Health: UInt8, Equatable, CaseIterable {
    case healthy = 0
    /// Up, but something failed (a CPU did not start, a VM faulted the hypervisor).
    case degraded = 1
  }

  public var version: [UInt8]
  public var backend: Backend
  public var health: Health
  public var cpuCount: UInt16
  public var packages: UInt16
  public var coresPerPackage: UInt16
  public var threadsPerCore: UInt16
  public var totalMemory: UInt64
  public var freeMemory: UInt64
  public var vmCount: UInt16
  public var uptimeMilliseconds: UInt64
  public var counters: ReceiverCounters

  public init(
    version: [UInt8], backend: Backend, health: Health = .healthy, cpuCount: UInt16,
    packages: UInt16 = 1, coresPerPackage: UInt16, threadsPerCore: UInt16 = 1,
    totalMemory: UInt64, freeMemory: UInt64, vmCount: UInt16, uptimeMilliseconds: UInt64,
    counters: ReceiverCounters = ReceiverCounters()
  ) {
    self.version = version
    self.backend = backend
    self.health = health
    self.cpuCount = cpuCount
    self.packages = packages
    self.coresPerPackage = coresPerPackage
    self.threadsPerCore = threadsPerCore
    self.totalMemory = totalMemory
    self.freeMemory = freeMemory
    self.vmCount = vmCount
    self.uptimeMilliseconds = uptimeMilliseconds
    self.counters = counters
  }

  func encode(into writer: inout WireWriter) throws(WireError) {
    try writer.bytes8(version, maximum: ProtocolLimits.maximumVersionLength)
    writer.u8(backend.rawValue)
    writer.u8(health.rawValue)
    writer.u16(cpuCount)
    writer.u16(packages)
    writer.u16(coresPerPackage)
    writer.u16(threadsPerCore)
    writer.u64(totalMemory)
    writer.u64(freeMemory)
    writer.u16(vmCount)
    writer.u64(uptimeMilliseconds)
    counters.encode(into: &writer)
  }

  static func decode(from reader: inout WireReader) throws(WireError) -> NodeInfo {
    let version = try reader.bytes8(maximum: ProtocolLimits.maximumVersionLength)
    let backend = try reader.enumeration(Backend.self)
    let health = try reader.enumeration(Health.self)
    let cpuCount = try reader.u16()
    let packages = try reader.u16()
    let coresPerPackage = try reader.u16()
    let threadsPerCore = try reader.u16()
    let totalMemory = try reader.u64()
    let freeMemory = try reader.u64()
    let vmCount = try reader.u16()
    let uptime = try reader.u64()
    return NodeInfo(
      version: version, backend: backend, health: health, cpuCount: cpuCount,
      packages: packages, coresPerPackage: coresPerPackage, threadsPerCore: threadsPerCore,
      totalMemory: totalMemory, freeMemory: freeMemory, vmCount: vmCount,
      uptimeMilliseconds: uptime, counters: try ReceiverCounters.decode(from: &reader))
  }
}
