import Foundation

/// Weibull(shape k, scale λ): P(X > x) = exp(-(x/λ)^k). k < 1 is a decreasing hazard rate
/// (a part that survived a while is less likely to fail soon), which is what large systems'
/// node logs show: Schroeder and Gibson (DSN 2006) fit k ≈ 0.7-0.8 to the time between
/// failures of single nodes (docs/fault-tolerance.md). k = 1 is the exponential.
public struct WeibullDistribution: Equatable {
  public var shape: Double
  public var scale: Double

  public init(shape: Double, scale: Double) throws(FaultToleranceError) {
    guard shape.isFinite, shape > 0 else {
      throw FaultToleranceError("the Weibull shape must be a positive number, not \(shape)")
    }
    guard scale.isFinite, scale > 0 else {
      throw FaultToleranceError("the Weibull scale must be a positive number, not \(scale)")
    }
    self.shape = shape
    self.scale = scale
  }

  /// Inverse-transform sampling: X = λ(-ln U)^(1/k) with U uniform in (0, 1].
  public func sample(_ random: inout SeededRandom) -> Double {
    scale * pow(-log(random.unitOpenAtZero()), 1 / shape)
  }

  /// E[X] = λ Γ(1 + 1/k).
  public var mean: Double { scale * tgamma(1 + 1 / shape) }

  /// Var[X] = λ² (Γ(1 + 2/k) - Γ(1 + 1/k)²).
  public var variance: Double {
    let g1 = tgamma(1 + 1 / shape)
    return scale * scale * (tgamma(1 + 2 / shape) - g1 * g1)
  }

  public func cumulativeProbability(_ x: Double) -> Double {
    x <= 0 ? 0 : 1 - exp(-pow(x / scale, shape))
  }
}

/// A mistake in what the user gave the fault-tolerance tools (a trace, a costs file, an
/// option), in words that say where and what.
public struct FaultToleranceError: Error, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
