/// The policies `--policy` knows, by name, with their tunables. A new policy is one more
/// case in `make`; nothing else in the daemon or simulator changes.
public struct PolicyParameters: Equatable {
  /// threshold: corrected errors in one bank within `windowSeconds`.
  public var threshold: UInt64 = 3
  public var windowSeconds: Double = 3600
  /// rate: EWMA of corrected errors per hour in one bank, and its time constant.
  public var errorsPerHour: Double = 10
  public var timeConstantSeconds: Double = 600
  /// periodic-checkpoint: seconds between checkpoints.
  public var checkpointPeriodSeconds: Double = 3600

  public init() {}
}

public enum PolicyCatalog {
  public static let shipped = ["threshold", "rate", "periodic-checkpoint", "none"]
  /// What `--policy all` compares: the four shipped, and proactive migration backed by
  /// checkpoints (a miss then costs one period of work, not the whole job).
  public static let all = shipped + ["rate+periodic-checkpoint"]

  /// A new instance (policies keep state) of `name`, or of several joined with '+'.
  public static func make(_ name: String, _ parameters: PolicyParameters = PolicyParameters())
    throws(FaultToleranceError) -> FaultTolerancePolicy
  {
    let parts = name.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
    if parts.count > 1 {
      var policies: [FaultTolerancePolicy] = []
      for part in parts { policies.append(try make(part, parameters)) }
      return CombinedPolicy(policies)
    }
    switch name {
    case "threshold":
      return ThresholdPolicy(
        threshold: parameters.threshold, windowSeconds: parameters.windowSeconds)
    case "rate":
      return RatePolicy(
        errorsPerHour: parameters.errorsPerHour,
        timeConstantSeconds: parameters.timeConstantSeconds)
    case "periodic-checkpoint":
      return PeriodicCheckpointPolicy(periodSeconds: parameters.checkpointPeriodSeconds)
    case "none":
      return DoNothingPolicy()
    default:
      throw FaultToleranceError(
        "there is no policy '\(name)'; the policies are \(shipped.joined(separator: ", ")) (join several with '+')"
      )
    }
  }
}
