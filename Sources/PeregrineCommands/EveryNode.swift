import Foundation

/// One question put to every node at once, a thread each (docs/cli.md, "A node that does
/// not answer"): a node that does not answer costs its one timeout, not one after another
/// for each dead node, and not a wait in front of the nodes after it.
enum EveryNode {
  /// `ask(i)` for each `i` in `0..<count`, all at once; the answers in order.
  static func ask<T>(_ count: Int, _ ask: @escaping (Int) -> T) -> [T] {
    guard count > 1 else { return (0..<count).map(ask) }
    let answers = Answers<T>(count: count)
    let group = DispatchGroup()
    for index in 0..<count {
      group.enter()
      Thread {
        answers.set(index, ask(index))
        group.leave()
      }.start()
    }
    group.wait()
    return answers.values.map { $0! }
  }

  private final class Answers<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [T?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) {
      lock.lock()
      values[index] = value
      lock.unlock()
    }
  }
}
