/// The answer to `nodeInfo`: what `peregrine nodes` shows.
public struct NodeInfo: Equatable {
  public enum Backend: UInt8, Equatable, CaseIterable {
    case svm = 1
    case vmx = 2
  }

  public enum Health: UInt8, Equatable, CaseIterable {
    case healthy = 0
    /// Up, but something is wrong: `problems` says what (docs/lifecycle.md, "Node health").
    case degraded = 1
  }

  /// Why a node is degraded: what, about which CPU (0 otherwise), and the measure.
  public struct HealthProblem: Equatable {
    public enum Kind: UInt8, Equatable, CaseIterable {
      /// CPU `subject` has not passed its scheduler loop for `value` ms.
      case cpuStalled = 1
      /// `value` bytes free, under the node's threshold.
      case lowMemory = 2
      /// `value` VMs ended in failure since boot.
      case failedVMs = 3
      /// `value` corrected machine-check errors in bank `subject` within the node's window
      /// (protocol version 4).
      case correctedMachineChecks = 4
      /// `value` uncorrected machine-check errors since boot.
      case uncorrectedMachineChecks = 5
    }

    /// The window of `correctedMachineChecks`: HypervisorCore's
    /// NodeHealth.machineCheckWindowMilliseconds (a test checks they agree).
    public static let machineCheckWindowSeconds = 60

    public var kind: Kind
    public var subject: UInt16
    public var value: UInt64

    public init(_ kind: Kind, subject: UInt16 = 0, value: UInt64) {
      self.kind = kind
      self.subject = subject
      self.value = value
    }
  }

  /// One entry of the node's health history (protocol version 4): when (ms since boot),
  /// what (HealthEvent.Kind's numbers), about which CPU and bank (`subject` = CPU << 8 |
  /// bank) and a measure.
  public struct HistoryEntry: Equatable {
    public enum Kind: UInt8, Equatable, CaseIterable {
      case correctedMachineCheck = 1
      case uncorrectedMachineCheck = 2
      case becameDegraded = 3
      case becameHealthy = 4
    }
    public static let size = 19

    public var millisecondsSinceBoot: UInt64
    public var kind: Kind
    public var subject: UInt16
    public var value: UInt64

    public init(millisecondsSinceBoot: UInt64, kind: Kind, subject: UInt16 = 0, value: UInt64 = 0) {
      self.millisecondsSinceBoot = millisecondsSinceBoot
      self.kind = kind
      self.subject = subject
      self.value = value
    }
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
  /// Empty when healthy (protocol version 2).
  public var problems: [HealthProblem]
  /// Machine-check errors since boot, all CPUs and banks (protocol version 4).
  public var correctedMachineChecks: UInt64
  public var uncorrectedMachineChecks: UInt64
  /// The newest health events, oldest first (protocol version 4).
  public var history: [HistoryEntry]

  public init(
    version: [UInt8], backend: Backend, health: Health = .healthy, cpuCount: UInt16,
    packages: UInt16 = 1, coresPerPackage: UInt16, threadsPerCore: UInt16 = 1,
    totalMemory: UInt64, freeMemory: UInt64, vmCount: UInt16, uptimeMilliseconds: UInt64,
    counters: ReceiverCounters = ReceiverCounters(), problems: [HealthProblem] = [],
    correctedMachineChecks: UInt64 = 0, uncorrectedMachineChecks: UInt64 = 0,
    history: [HistoryEntry] = []
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
    self.problems = problems
    self.correctedMachineChecks = correctedMachineChecks
    self.uncorrectedMachineChecks = uncorrectedMachineChecks
    self.history = history
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
    try writer.count8(problems.count, maximum: ProtocolLimits.maximumHealthProblems)
    for problem in problems {
      writer.u8(problem.kind.rawValue)
      writer.u16(problem.subject)
      writer.u64(problem.value)
    }
    writer.u64(correctedMachineChecks)
    writer.u64(uncorrectedMachineChecks)
    try writer.count8(history.count, maximum: ProtocolLimits.maximumHealthHistory)
    for entry in history {
      writer.u64(entry.millisecondsSinceBoot)
      writer.u8(entry.kind.rawValue)
      writer.u16(entry.subject)
      writer.u64(entry.value)
    }
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
    let counters = try ReceiverCounters.decode(from: &reader)
    let count = try reader.count8(
      maximum: ProtocolLimits.maximumHealthProblems, minimumElementSize: 11)
    var problems: [HealthProblem] = []
    for _ in 0..<count {
      let kind = try reader.enumeration(HealthProblem.Kind.self)
      let subject = try reader.u16()
      problems.append(HealthProblem(kind, subject: subject, value: try reader.u64()))
    }
    let corrected = try reader.u64()
    let uncorrected = try reader.u64()
    let entries = try reader.count8(
      maximum: ProtocolLimits.maximumHealthHistory, minimumElementSize: HistoryEntry.size)
    var history: [HistoryEntry] = []
    for _ in 0..<entries {
      let milliseconds = try reader.u64()
      let kind = try reader.enumeration(HistoryEntry.Kind.self)
      let subject = try reader.u16()
      history.append(
        HistoryEntry(
          millisecondsSinceBoot: milliseconds, kind: kind, subject: subject,
          value: try reader.u64()))
    }
    return NodeInfo(
      version: version, backend: backend, health: health, cpuCount: cpuCount,
      packages: packages, coresPerPackage: coresPerPackage, threadsPerCore: threadsPerCore,
      totalMemory: totalMemory, freeMemory: freeMemory, vmCount: vmCount,
      uptimeMilliseconds: uptime, counters: counters, problems: problems,
      correctedMachineChecks: corrected, uncorrectedMachineChecks: uncorrected, history: history)
  }
}
