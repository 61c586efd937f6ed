import Synchronization

/// The 256-bit posted-interrupt request bitmap of one vCPU, like VT-x posted interrupts'
/// PIR (SDM 3C §30.6): any CPU sets a vector's bit with an atomic OR; the vCPU's own CPU
/// takes the whole bitmap with atomic exchanges and moves it into the APIC's IRR. Four
/// 64-bit words, vectors 0-63 in `word0`.
public final class PostedInterrupts {
  private let word0 = Atomic<UInt64>(0)
  private let word1 = Atomic<UInt64>(0)
  private let word2 = Atomic<UInt64>(0)
  private let word3 = Atomic<UInt64>(0)

  public init() {}

  /// Requests `vector`; safe from any CPU.
  public func set(_ vector: UInt8) {
    let bit: UInt64 = 1 << UInt64(vector & 63)
    switch vector >> 6 {
    case 0: word0.bitwiseOr(bit, ordering: .releasing)
    case 1: word1.bitwiseOr(bit, ordering: .releasing)
    case 2: word2.bitwiseOr(bit, ordering: .releasing)
    default: word3.bitwiseOr(bit, ordering: .releasing)
    }
  }

  /// Takes and clears word `index` (0-3), vectors 64 * index and up.
  public func take(word index: Int) -> UInt64 {
    switch index {
    case 0: return word0.exchange(0, ordering: .acquiring)
    case 1: return word1.exchange(0, ordering: .acquiring)
    case 2: return word2.exchange(0, ordering: .acquiring)
    default: return word3.exchange(0, ordering: .acquiring)
    }
  }

  /// Word `index` (0-3) without taking it, for reports (racy by nature).
  public func peek(word index: Int) -> UInt64 {
    switch index {
    case 0: return word0.load(ordering: .relaxed)
    case 1: return word1.load(ordering: .relaxed)
    case 2: return word2.load(ordering: .relaxed)
    default: return word3.load(ordering: .relaxed)
    }
  }

  /// Whether any vector is requested (for tests and reports; racy by nature).
  public var isEmpty: Bool {
    word0.load(ordering: .relaxed) | word1.load(ordering: .relaxed)
      | word2.load(ordering: .relaxed) | word3.load(ordering: .relaxed) == 0
  }
}
