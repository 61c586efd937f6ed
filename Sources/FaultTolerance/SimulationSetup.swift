/// The simulated cluster and job (`peregrine ft simulate`, docs/fault-tolerance.md,
/// "Simulator"): `vms` VMs of one tightly coupled job (an MPI program: every VM must run
/// for any to progress), placed round-robin on `nodes` nodes.
public struct SimulationSetup: Equatable {
  public var nodes: Int
  /// The job's length without failures or fault-tolerance overhead.
  public var jobSeconds: Double
  public var vms: Int
  public var vmMemoryBytes: UInt64
  public var vmVCPUs: Int
  /// Default: room for one VM more than round-robin puts on a node, so that a node can be
  /// evacuated somewhere.
  public var nodeMemoryBytes: UInt64
  public var nodeCPUs: Int
  /// How often the policy is asked (the daemon's --interval).
  public var pollSeconds: Double
  /// When the first poll comes, in seconds after the job's start: a daemon started after
  /// the job polls at offset + k * pollSeconds.
  public var pollOffsetSeconds: Double
  public var costs: CostModel

  public init(
    nodes: Int, jobSeconds: Double, vms: Int, vmMemoryBytes: UInt64 = 512 << 20,
    vmVCPUs: Int = 1, nodeMemoryBytes: UInt64? = nil, nodeCPUs: Int? = nil,
    pollSeconds: Double = 60, pollOffsetSeconds: Double = 0, costs: CostModel = .builtIn
  ) throws(FaultToleranceError) {
    guard nodes >= 1, nodes <= 100_000 else {
      throw FaultToleranceError("--nodes must be from 1 to 100000, not \(nodes)")
    }
    guard vms >= 1, vms <= 1_000_000 else {
      throw FaultToleranceError("--vms must be from 1 to 1000000, not \(vms)")
    }
    guard jobSeconds.isFinite, jobSeconds > 0 else {
      throw FaultToleranceError("--job-hours must be a positive number")
    }
    guard pollSeconds.isFinite, pollSeconds >= 1 else {
      throw FaultToleranceError("--interval must be at least 1 second")
    }
    guard pollOffsetSeconds.isFinite, pollOffsetSeconds >= 0 else {
      throw FaultToleranceError("--poll-offset must be 0 or more seconds")
    }
    // Each poll builds a snapshot of every node: bound the work before it starts.
    guard jobSeconds / pollSeconds * Double(nodes) <= 1e9 else {
      throw FaultToleranceError(
        "a \(jobSeconds / 3600) h job polled every \(pollSeconds) s on \(nodes) nodes is too much to simulate; raise --interval or shorten the job"
      )
    }
    guard vmMemoryBytes > 0, vmVCPUs >= 1 else {
      throw FaultToleranceError("a VM needs memory and at least one vCPU")
    }
    let perNode = (vms + nodes - 1) / nodes
    self.nodes = nodes
    self.jobSeconds = jobSeconds
    self.vms = vms
    self.vmMemoryBytes = vmMemoryBytes
    self.vmVCPUs = vmVCPUs
    self.nodeMemoryBytes = nodeMemoryBytes ?? UInt64(perNode + 1) * vmMemoryBytes
    self.nodeCPUs = nodeCPUs ?? (perNode + 1) * vmVCPUs
    self.pollSeconds = pollSeconds
    self.pollOffsetSeconds = pollOffsetSeconds
    self.costs = costs
    guard self.nodeMemoryBytes >= UInt64(perNode) * vmMemoryBytes,
      self.nodeCPUs >= perNode * vmVCPUs
    else {
      throw FaultToleranceError(
        "\(vms) VMs do not fit on \(nodes) nodes (\(perNode) per node need \(perNode * vmVCPUs) CPUs and \(UInt64(perNode) * vmMemoryBytes >> 20) MiB each)"
      )
    }
  }

  public var checkpointSeconds: Double { costs.seconds(.checkpoint, memoryBytes: vmMemoryBytes) }
  public var migrationSeconds: Double { costs.seconds(.migration, memoryBytes: vmMemoryBytes) }
  public var downtimeSeconds: Double { costs.seconds(.downtime, memoryBytes: vmMemoryBytes) }
  /// Noticing the failure and relaunching, then every VM restoring its checkpoint at once.
  public var restartSeconds: Double {
    costs.restartSeconds + costs.seconds(.restore, memoryBytes: vmMemoryBytes)
  }
  /// The same when nothing was saved yet: every VM created anew, nothing restored.
  public var freshStartSeconds: Double {
    costs.restartSeconds + costs.seconds(.create, memoryBytes: vmMemoryBytes)
  }
}

/// A failure predictor of known quality, in place of the trace's own corrected-error
/// bursts: of the trace's failures, a fraction `recall` (drawn at random) is preceded by a
/// burst of `burstErrors` corrected errors `leadSeconds` before it; false alarms (bursts on
/// nodes that do not fail then) are added so that precision = true / (true + false), at
/// uniformly random times and nodes over the horizon. The policies still decide from the
/// bursts, so what the predictor flags is what a threshold or rate rule would see.
public struct PredictorModel: Equatable {
  public var precision: Double
  public var recall: Double
  public var leadSeconds: Double = 1800
  public var burstErrors: UInt64 = 10

  public init(precision: Double, recall: Double) throws(FaultToleranceError) {
    guard precision > 0, precision <= 1 else {
      throw FaultToleranceError("--precision must be in (0, 1], not \(precision)")
    }
    guard recall >= 0, recall <= 1 else {
      throw FaultToleranceError("--recall must be in [0, 1], not \(recall)")
    }
    self.precision = precision
    self.recall = recall
  }

  public struct Applied: Equatable {
    public var trace: FaultTrace
    public var truePredictions: Int
    public var falseAlarms: Int
  }

  public func apply(to trace: FaultTrace, nodes: Int, horizonSeconds: Double, seed: UInt64)
    -> Applied
  {
    var random = SeededRandom(seed: seed)
    var events = trace.events.filter { $0.kind != .burst }
    var hits = 0
    for failure in trace.events where failure.kind == .failure && random.chance(recall) {
      hits += 1
      events.append(
        FaultTrace.Event(
          seconds: max(0, failure.seconds - leadSeconds), node: failure.node, kind: .burst,
          count: burstErrors, bank: 0))
    }
    let falseAlarms = Int((Double(hits) * (1 - precision) / precision).rounded())
    for _ in 0..<falseAlarms {
      let time = random.unit() * horizonSeconds
      let node = Int(random.next() % UInt64(nodes))
      events.append(
        FaultTrace.Event(seconds: time, node: node, kind: .burst, count: burstErrors, bank: 0))
    }
    return Applied(
      trace: FaultTrace(events: events), truePredictions: hits, falseAlarms: falseAlarms)
  }
}
