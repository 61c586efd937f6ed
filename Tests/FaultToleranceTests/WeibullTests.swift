import XCTest

@testable import FaultTolerance

final class WeibullTests: XCTestCase {
  /// 200 000 draws with a fixed seed: mean and variance within 2 % of λΓ(1+1/k) and
  /// λ²(Γ(1+2/k) - Γ(1+1/k)²), and the empirical CDF within 0.01 of the true one at its
  /// quartiles, for the shapes the literature reports and the exponential.
  func testSampleStatisticsMatchTheDistribution() throws {
    for shape in [0.7, 0.8, 1.0, 2.0] {
      let weibull = try WeibullDistribution(shape: shape, scale: 100)
      var random = SeededRandom(seed: 42)
      let samples = (0..<200_000).map { _ in weibull.sample(&random) }
      let mean = samples.reduce(0, +) / Double(samples.count)
      let variance =
        samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count - 1)
      XCTAssertEqual(mean / weibull.mean, 1, accuracy: 0.02, "shape \(shape) mean \(mean)")
      XCTAssertEqual(
        variance / weibull.variance, 1, accuracy: shape < 1 ? 0.05 : 0.02,
        "shape \(shape) variance \(variance)")
      let sorted = samples.sorted()
      for quantile in [0.25, 0.5, 0.75] {
        let x = sorted[Int(quantile * Double(sorted.count))]
        XCTAssertEqual(weibull.cumulativeProbability(x), quantile, accuracy: 0.01)
      }
      XCTAssertTrue(samples.allSatisfy { $0.isFinite && $0 >= 0 })
    }
  }

  func testTheMeanOfShapeOneIsTheScale() throws {
    XCTAssertEqual(try WeibullDistribution(shape: 1, scale: 7).mean, 7, accuracy: 1e-9)
    // Γ(1 + 1/0.7) ≈ 1.2658: a shape below 1 has a mean above its scale.
    XCTAssertEqual(try WeibullDistribution(shape: 0.7, scale: 100).mean, 126.58, accuracy: 0.01)
  }

  func testTheSameSeedGivesTheSameDrawsAndAnotherSeedOthers() throws {
    let weibull = try WeibullDistribution(shape: 0.7, scale: 10)
    var a = SeededRandom(seed: 7)
    var b = SeededRandom(seed: 7)
    var c = SeededRandom(seed: 8)
    let first = (0..<10).map { _ in weibull.sample(&a) }
    XCTAssertEqual(first, (0..<10).map { _ in weibull.sample(&b) })
    XCTAssertNotEqual(first, (0..<10).map { _ in weibull.sample(&c) })
  }

  func testBadParametersAreRefusedWithTheirName() {
    XCTAssertThrowsError(try WeibullDistribution(shape: 0, scale: 1)) {
      XCTAssertTrue("\($0)".contains("shape"))
    }
    XCTAssertThrowsError(try WeibullDistribution(shape: 1, scale: -3)) {
      XCTAssertTrue("\($0)".contains("scale"))
    }
    XCTAssertThrowsError(try WeibullDistribution(shape: .nan, scale: 1))
  }
}
