/// A small seeded generator (SplitMix64: a 64-bit counter stepped by the golden-ratio
/// constant, then mixed by two multiply-xorshift rounds), so that a trace or a simulation
/// is the same for the same `--seed` on every machine and Swift version. Not for secrets.
public struct SeededRandom: RandomNumberGenerator {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in (0, 1]: never 0, so that -log(u) is finite.
  public mutating func unitOpenAtZero() -> Double {
    // The top 53 bits, as an integer in 0..<2^53, shifted to 1...2^53.
    Double((next() >> 11) + 1) / 9_007_199_254_740_992.0
  }

  /// Uniform in [0, 1).
  public mutating func unit() -> Double {
    Double(next() >> 11) / 9_007_199_254_740_992.0
  }

  /// True with probability `p`.
  public mutating func chance(_ p: Double) -> Bool { unit() < p }
}
