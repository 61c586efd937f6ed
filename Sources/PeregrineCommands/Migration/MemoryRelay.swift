import Foundation

/// Live migration's round 0 with reading and writing overlapped (docs/migration.md): chunks
/// read from the source are handed to a thread of their own that writes them to the target
/// in batches, so both nodes work at once instead of the whole memory being read before its
/// first byte is written. The target's connection is used by that thread only until
/// `finish` returns.
final class MemoryRelay: @unchecked Sendable {
  typealias Chunk = (offset: UInt64, bytes: [UInt8])

  private let condition = NSCondition()
  private var queue: [Chunk] = []
  private var finished = false
  private var done = false
  private var failure: Error?
  private let batch: Int

  /// `write` runs on the relay's thread, with every chunk put since its last call once
  /// `batch` of them wait (or the rest at `finish`): the slower the target, the larger its
  /// batches. After its first error it is not called again and the rest is dropped.
  init(batch: Int = 512, write: @escaping ([Chunk]) throws -> Void) {
    self.batch = max(1, batch)
    let thread = Thread { [self] in run(write) }
    thread.start()
  }

  /// Called by the reader for each chunk of data.
  func put(_ chunk: Chunk) {
    condition.lock()
    queue.append(chunk)
    if queue.count >= batch { condition.broadcast() }
    condition.unlock()
  }

  /// Whether a write failed. (`ControlClient.readMemory` cannot stop midway, so round 0
  /// reads on and the failure is reported when it ends.)
  var hasFailed: Bool {
    condition.lock()
    defer { condition.unlock() }
    return failure != nil
  }

  /// No more chunks: waits until every one is written; throws the writer's error.
  func finish() throws {
    condition.lock()
    finished = true
    condition.broadcast()
    while !done { condition.wait() }
    let failure = failure
    condition.unlock()
    if let failure { throw failure }
  }

  private func run(_ write: ([Chunk]) throws -> Void) {
    while true {
      condition.lock()
      while queue.count < batch && !finished { condition.wait() }
      // Taken under the lock that says whether more can come: after `finished`, no `put`.
      let next = queue
      queue = []
      let last = finished
      let failed = failure != nil
      condition.unlock()
      if !failed && !next.isEmpty {
        do { try write(next) } catch {
          condition.lock()
          failure = error
          condition.unlock()
        }
      }
      if last {
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
        return
      }
    }
  }
}
