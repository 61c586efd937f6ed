import HypervisorCore
import Synchronization

/// Guest console output on the hypervisor console: each VM's bytes are line-buffered and
/// printed as whole lines tagged "[name] ", so two VMs' output never interleaves mid-line.
/// VMs on different CPUs write at once: the lock guards the buffers.
final class HypervisorConsole: ConsoleSink {
  private var pending: [(name: [UInt8], line: [UInt8])] = []
  private let lock = TicketLock()
  static let maximumLine = 256
  /// Test hook (manage_test): set once VM `watched.vm` printed a line containing
  /// `watched.text`.
  let watchMatched = Atomic<Bool>(false)
  private var watched: (vm: [UInt8], text: [UInt8])?

  func watch(for text: [UInt8], from vmName: [UInt8]) {
    lock.withLock { watched = (vmName, text) }
  }

  /// Each VM's recent output, for the control protocol's console read (`keepsHistory`,
  /// set when the node has a control server): kept from the VM's creation until another VM
  /// of that name is created, so a reader sees the end of a VM that has just gone.
  private var histories: [(name: [UInt8], history: ConsoleHistory)] = []
  private var keepsHistory = false
  /// Bytes kept per VM.
  static let historyBytes = 16 * 1024
  /// Ended VMs whose histories are kept for `console` (docs/control-protocol.md): at most
  /// 4 × 16 KiB beyond the live VMs'.
  static let endedHistories = 4

  func write(_ byte: UInt8, from vmName: [UInt8]) {
    lock.withLock {
      buffer(byte, from: vmName)
      if keepsHistory, let index = histories.firstIndex(where: { $0.name == vmName }) {
        histories[index].history.append(byte)
      }
    }
  }

  /// Starts an empty history for a new VM named `vmName`, dropping the previous VM's of
  /// that name, and of the VMs no longer in `live`, all but the last `endedHistories`.
  func startHistory(for vmName: [UInt8], keeping live: [[UInt8]]) {
    lock.withLock {
      keepsHistory = true
      histories.removeAll { $0.name == vmName }
      // The oldest ended VMs' histories go first (histories are in creation order).
      while histories.filter({ !live.contains($0.name) }).count > Self.endedHistories {
        guard let oldest = histories.firstIndex(where: { !live.contains($0.name) }) else { break }
        histories.remove(at: oldest)
      }
      histories.append((vmName, ConsoleHistory(capacity: Self.historyBytes)))
    }
  }

  /// Up to `maximum` bytes of `vmName`'s output from `offset` on (or from the oldest kept),
  /// the offset they start at, and how many bytes it wrote in all; nil without a history.
  func history(of vmName: [UInt8], from offset: UInt64, maximum: Int)
    -> (offset: UInt64, bytes: [UInt8], written: UInt64)?
  {
    lock.withLock {
      guard let index = histories.firstIndex(where: { $0.name == vmName }) else { return nil }
      let history = histories[index].history
      let (start, bytes) = history.read(from: offset, maximum: maximum)
      return (start, bytes, history.written)
    }
  }

  private func buffer(_ byte: UInt8, from vmName: [UInt8]) {
    let slot: Int
    if let index = pending.firstIndex(where: { $0.name == vmName }) {
      slot = index
    } else {
      pending.append((vmName, []))
      slot = pending.count - 1
    }
    if byte == 0x0A || pending[slot].line.count >= Self.maximumLine {
      emit(slot)
      if byte == 0x0A { return }
    }
    if byte == 0x0D { return }
    pending[slot].line.append(byte)
  }

  /// Prints what a VM left without a final newline (when it stops).
  func flush(_ vmName: [UInt8]) {
    lock.lock()
    defer { lock.unlock() }
    if let index = pending.firstIndex(where: { $0.name == vmName }), !pending[index].line.isEmpty {
      emit(index)
    }
  }

  private func contains(_ line: [UInt8], _ text: [UInt8]) -> Bool {
    guard !text.isEmpty, line.count >= text.count else { return false }
    for start in 0...(line.count - text.count) where line[start] == text[0] {
      if line[start..<(start + text.count)].elementsEqual(text) { return true }
    }
    return false
  }

  private func emit(_ slot: Int) {
    ConsoleLock.acquire()
    defer { ConsoleLock.release() }
    Console.write("[")
    Console.write(bytes: pending[slot].name)
    Console.write("] ")
    for byte in pending[slot].line where byte >= 0x20 && byte < 0x7F || byte == 0x09 {
      Console.write(byte)
    }
    Console.write("\n")
    if let watched, pending[slot].name == watched.vm, contains(pending[slot].line, watched.text) {
      watchMatched.store(true, ordering: .releasing)
    }
    pending[slot].line.removeAll(keepingCapacity: true)
  }
}
