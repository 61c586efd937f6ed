import CArch
import Synchronization

/// Keeps one CPU's console line together: `Log.begin` takes it and `Log.end` lets it go, and
/// every `Console.write` takes it around itself. Reentrant on the CPU that holds it, so a
/// line's pieces nest. A CPU that waits too long takes it anyway: a console that another
/// CPU left locked when it crashed must still print the crash.
enum ConsoleLock {
  private static let owner = Atomic<Int>(-1)
  /// Nesting on the owning CPU; only the owner touches it.
  private nonisolated(unsafe) static var depth = 0

  @inline(__always)
  static func acquire() {
    let me = CPUs.currentIndex
    if owner.load(ordering: .relaxed) == me {
      depth += 1
      return
    }
    // A slow console (Bochs: thousands of instructions a character) can hold it for long:
    // steal only after seconds (or a billion tries before the TSC is calibrated).
    let patience = LocalAPIC.tscPerMillisecond * 5_000
    let start = arch_rdtsc()
    var spins = 0
    while !owner.compareExchange(expected: -1, desired: me, ordering: .acquiring).exchanged {
      spins += 1
      if patience == 0 ? spins > 1_000_000_000 : arch_rdtsc() &- start > patience {
        owner.store(me, ordering: .sequentiallyConsistent)
        break
      }
    }
    depth = 1
  }

  @inline(__always)
  static func release() {
    guard owner.load(ordering: .relaxed) == CPUs.currentIndex else { return }
    depth -= 1
    if depth == 0 { owner.store(-1, ordering: .releasing) }
  }
}
