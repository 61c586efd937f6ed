/// Synthetic failure traces (`peregrine ft trace generate`): each node fails independently,
/// its times between failures drawn from a Weibull distribution (a renewal process: the
/// clock starts again when the node is back from repair). Before each failure, with
/// `precursorProbability`, a burst of corrected errors at `leadSeconds` before it (the
/// precursor a predictor can see); between failures, isolated single corrected errors at
/// `noisePerDay` per node (the wear a node lives with, which a good predictor ignores).
public struct TraceGenerator: Equatable {
  public var distribution: WeibullDistribution
  public var nodes: Int
  public var durationSeconds: Double
  public var repairSeconds: Double = 3600
  public var leadSeconds: Double = 1800
  public var burstErrors: UInt64 = 10
  public var precursorProbability: Double = 1
  public var noisePerDay: Double = 0.5

  public init(distribution: WeibullDistribution, nodes: Int, durationSeconds: Double)
    throws(FaultToleranceError)
  {
    guard nodes >= 1, nodes <= 100_000 else {
      throw FaultToleranceError("--nodes must be from 1 to 100000, not \(nodes)")
    }
    guard durationSeconds.isFinite, durationSeconds > 0 else {
      throw FaultToleranceError("the duration must be a positive number of hours")
    }
    self.distribution = distribution
    self.nodes = nodes
    self.durationSeconds = durationSeconds
  }

  public func generate(seed: UInt64) -> FaultTrace {
    var random = SeededRandom(seed: seed)
    var events: [FaultTrace.Event] = []
    // The distribution's scale is in hours (as the command line gives it).
    for node in 0..<nodes {
      var up = 0.0
      while true {
        let failure = up + distribution.sample(&random) * 3600
        if failure >= durationSeconds { break }
        if random.chance(precursorProbability) {
          events.append(
            FaultTrace.Event(
              seconds: max(up, failure - leadSeconds), node: node, kind: .burst,
              count: burstErrors, bank: 0))
        }
        events.append(FaultTrace.Event(seconds: failure, node: node, kind: .failure))
        up = failure + repairSeconds
        if up < durationSeconds {
          events.append(FaultTrace.Event(seconds: up, node: node, kind: .recovery))
        } else {
          break
        }
      }
      // Background wear: a Poisson process (exponential gaps), one error in bank 1 each.
      if noisePerDay > 0,
        let exponential = try? WeibullDistribution(shape: 1, scale: 86400 / noisePerDay)
      {
        var time = exponential.sample(&random)
        while time < durationSeconds {
          events.append(
            FaultTrace.Event(seconds: time, node: node, kind: .burst, count: 1, bank: 1))
          time += exponential.sample(&random)
        }
      }
    }
    return FaultTrace(events: events)
  }
}
