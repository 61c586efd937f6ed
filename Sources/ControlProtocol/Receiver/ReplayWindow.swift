/// One client's anti-replay window over sequence numbers (RFC 4303 §3.4.3): the highest
/// sequence number accepted, and a bitmap of which of the 64 below it were.
///
/// A window starts at a floor with every number at or below it counted as seen, so that a
/// client the node has not heard of (or has forgotten) can only move forward from there.
public struct ReplayWindow: Equatable {
  /// RFC 4303 §3.4.3 asks for at least 32; 64 is its default and one machine word.
  public static let size: UInt64 = 64

  public enum Verdict: Equatable {
    /// Never accepted: may be executed.
    case new
    /// Inside the window and already accepted.
    case duplicate
    /// Below the window: too old to tell, so refused (RFC 4303 §3.4.3).
    case tooOld
  }

  public private(set) var highest: UInt64
  /// Bit i: `highest - i` was accepted (bit 0 is `highest` itself).
  private var seen: UInt64

  public init(floor: UInt64 = 0) {
    highest = floor
    seen = ~0
  }

  public func verdict(for sequence: UInt64) -> Verdict {
    if sequence > highest { return .new }
    let distance = highest - sequence
    if distance >= ReplayWindow.size { return .tooOld }
    return seen & (1 << distance) != 0 ? .duplicate : .new
  }

  /// Marks `sequence` accepted (after authentication: RFC 4303 §3.4.3 updates the window
  /// only for packets whose integrity checked), sliding the window when it is the highest.
  public mutating func record(_ sequence: UInt64) {
    if sequence > highest {
      let shift = sequence - highest
      seen = shift >= ReplayWindow.size ? 1 : (seen << shift) | 1
      highest = sequence
    } else if highest - sequence < ReplayWindow.size {
      seen |= 1 << (highest - sequence)
    }
  }
}
