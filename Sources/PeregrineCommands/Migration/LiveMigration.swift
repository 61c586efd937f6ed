import Foundation
import HypervisorCore
import PeregrineProfiles

/// The pre-copy algorithm of `migrate` (docs/migration.md), with which side failed kept so
/// the VM survives where it can: a target that fails leaves the VM running on the source
/// (dirty log off, unpaused), a source that fails leaves no incoming VM on the target.
struct LiveMigration {
  let vm: String
  let profile: MachineProfile
  let xml: Data
  let source: MigrationConnection
  let target: MigrationConnection
  let wasPaused: Bool
  let environment: CLIEnvironment
  let maxRounds: Int
  let downtimePages: Int
  /// The nodes' migration leases (docs/migration.md, "A CLI that dies"): each node undoes
  /// its side by itself after this long without a word from this CLI.
  var leaseMilliseconds: UInt64 = 30_000
  /// Throttle the VM on the source while rounds do not halve its dirty set (AutoConverge).
  var autoConverge = true
  /// Called once each round's pages were sent (round 0: the whole memory; the last, the
  /// stop-and-copy, with the VM paused, before the commit), with a function
  /// that renews both nodes' leases; the test-only pause of `MigrationTestPause` hangs here.
  var afterRound: (Int, _ keepAlive: () -> Void) -> Void = { _, _ in }

  /// A CLI error's message (its hint is about a command the user ran, not this one).
  private func reason(_ error: Error) -> String {
    (error as? CLIError)?.message ?? "\(error)"
  }

  private struct SideFailure: Error {
    let onTarget: Bool
    let error: Error
  }

  private func onSource<T>(_ body: () throws -> T) throws -> T {
    do { return try environment.request(body) } catch {
      throw SideFailure(onTarget: false, error: error)
    }
  }

  private func onTarget<T>(_ body: () throws -> T) throws -> T {
    do { return try environment.request(body) } catch {
      throw SideFailure(onTarget: true, error: error)
    }
  }

  /// Whether the VM's memory is written into the target as it is read: only once the target
  /// VM exists, and a VM with a disk is created there only once its disk can be read (paused).
  private var createsEarly: Bool { profile.disk == nil }

  mutating func run() throws -> MigrationResult {
    let started = environment.now()
    let memorySize = profile.memoryBytes
    var targetCreated = false
    var logOn = false
    var pausedByUs = false
    var pending: [UInt64: [UInt8]] = [:]
    var pagesPerRound: [Int] = []
    /// Auto-converge's throttle while each round was copied (AutoConverge).
    var throttlePerRound: [Int] = []
    var throttle = 0
    var bytesSent: UInt64 = 0
    var downtimeStart = started
    var diskBytes: UInt64 = 0

    func createTarget(disk: [UInt8]?) throws {
      var request = CreateRequest(profile: profile, files: [], diskSource: nil)
      request.incoming = true
      if let disk {
        request.files.append(
          CreateRequest.Upload(role: "disk", path: "\(vm) (disk)", contents: Data(disk)))
      }
      _ = try onTarget { try target.createMachine(request) { _ in } }
      targetCreated = true
      try onTarget { try target.renewLease(of: vm, milliseconds: leaseMilliseconds) }
    }
    /// While the CLI waits (the test-only pause): a node that does not answer is not asked
    /// again (each ask waits out the retransmissions); its failure shows at the next request.
    var silent: Set<Bool> = []
    func keepAlive() {
      for (connection, isTarget) in [(source, false), (target, true)] {
        guard !silent.contains(isTarget), isTarget ? targetCreated : logOn else { continue }
        do {
          try environment.request {
            try connection.renewLease(of: vm, milliseconds: leaseMilliseconds)
          }
        } catch {
          silent.insert(isTarget)
        }
      }
    }
    func send(_ chunks: [(offset: UInt64, bytes: [UInt8])]) throws {
      bytesSent += chunks.reduce(0) { $0 + UInt64($1.bytes.count) }
      if targetCreated {
        try onTarget { try target.writeMemory(of: vm, chunks: chunks) { _, _ in } }
      } else {
        for chunk in chunks { pending[chunk.offset] = chunk.bytes }
      }
    }
    /// `read` on the source hands each chunk to its argument, which the target writes
    /// meanwhile (MemoryRelay): both nodes work at once. Needs the target VM created.
    func relayed(_ read: (@escaping (MemoryRelay.Chunk) -> Void) throws -> Void) throws {
      let (environment, target, vm) = (environment, target, vm)
      let relay = MemoryRelay { batch in
        try environment.request { try target.writeMemory(of: vm, chunks: batch) { _, _ in } }
      }
      var readFailure: Error? = nil
      do {
        try onSource { try read { relay.put($0) } }
      } catch {
        readFailure = error
      }
      do { try relay.finish() } catch {
        if readFailure == nil { throw SideFailure(onTarget: true, error: error) }
      }
      if let readFailure { throw readFailure }
    }
    func copy(pages: [UInt64]) throws {
      let offsets = pages.flatMap { page in (0..<UInt64(4)).map { page * 4096 + $0 * 1024 } }
        .filter { $0 < memorySize }
      guard !offsets.isEmpty else { return }
      guard targetCreated else {
        try send(
          try onSource { try source.readMemoryChunks(of: vm, at: offsets, memorySize: memorySize) })
        return
      }
      var sent: UInt64 = 0
      try relayed { put in
        try source.streamMemoryChunks(of: vm, at: offsets, memorySize: memorySize) { chunk in
          sent += UInt64(chunk.bytes.count)
          put(chunk)
        }
      }
      bytesSent += sent
    }

    do {
      if createsEarly { try createTarget(disk: nil) }
      _ = try onSource { try source.startDirtyLog(of: vm) }
      logOn = true
      try onSource { try source.renewLease(of: vm, milliseconds: leaseMilliseconds) }
      // Every page is dirty at the start: the snapshot clears that, and the whole memory is
      // read after it (zero chunks left out: the target's memory starts zeroed).
      _ = try onSource { try source.dirtyPages(of: vm) }
      if targetCreated {
        // Read and written at once: the target writes each batch while the source reads on.
        var pages = Set<UInt64>()
        var sent: UInt64 = 0
        try relayed { put in
          try source.streamMemory(of: vm) { chunk in
            sent += UInt64(chunk.bytes.count)
            pages.insert(chunk.offset / 4096)
            put(chunk)
          }
        }
        bytesSent += sent
        pagesPerRound.append(pages.count)
        throttlePerRound.append(0)
      } else {
        let whole = try onSource { try source.readMemory(of: vm) { _, _ in } }
        let chunks = whole.chunks(of: 1024)
        try send(chunks)
        pagesPerRound.append(Set(chunks.map { $0.offset / 4096 }).count)
        throttlePerRound.append(0)
      }
      afterRound(0, keepAlive)
      var last: [UInt64] = []
      while true {
        let pages = try onSource { try source.dirtyPages(of: vm) }
        if pages.count <= downtimePages || pagesPerRound.count >= maxRounds {
          last = pages
          break
        }
        // A round that did not halve the dirty set: the guest outruns the copy (round 0,
        // the whole memory, says nothing of its rate).
        let raised = AutoConverge.next(
          current: throttle, previous: pagesPerRound.count > 1 ? pagesPerRound.last : nil,
          pages: pages.count)
        if autoConverge && raised != throttle {
          try onSource { try source.throttle(vm, percent: raised) }
          throttle = raised
        }
        try copy(pages: pages)
        pagesPerRound.append(pages.count)
        throttlePerRound.append(throttle)
        afterRound(pagesPerRound.count - 1, keepAlive)
      }
      // Stop and copy.
      downtimeStart = environment.now()
      if !wasPaused {
        try onSource { try source.pauseMachine(named: vm) }
        pausedByUs = true
      }
      var state: [UInt8]? = nil
      for attempt in 0..<100 {
        do {
          state = try onSource { try source.savedStateBytes(of: vm) }
          break
        } catch let failure as SideFailure {
          guard attempt < 99, let error = failure.error as? CLIError,
            error.message.contains("pause the VM first")
          else { throw failure }
          environment.sleep(0.05)
        }
      }
      guard let state else {
        throw SideFailure(onTarget: false, error: CLIError(.failure, "the VM did not pause"))
      }
      let final = try onSource { try source.dirtyPages(of: vm) }
      let stopPages = Array(Set(last).union(final)).sorted()
      try copy(pages: stopPages)
      pagesPerRound.append(stopPages.count)
      throttlePerRound.append(throttle)
      // The stop-and-copy round is a round too: a pause here holds the VM paused.
      afterRound(pagesPerRound.count - 1, keepAlive)
      if !createsEarly {
        let disk = try onSource { try source.readDisk(of: vm) { _ in } }
        diskBytes = UInt64(disk.image.count)
        try createTarget(disk: disk.image)
        let buffered = pending.sorted { $0.key < $1.key }.map { (offset: $0.key, bytes: $0.value) }
        pending = [:]
        try onTarget { try target.writeMemory(of: vm, chunks: buffered) { _, _ in } }
      }
      // The commit (docs/migration.md, "A CLI that dies"): from here the source's lease no
      // longer resumes its copy, so a CLI that dies now leaves at most one copy running.
      try onSource { try source.handOver(vm) }
      try onTarget { try target.restoreState(of: vm, state: state) }
    } catch let failure as SideFailure {
      let message = reason(failure.error)
      if failure.onTarget {
        // The source first: the VM must not stay paused or tracked while a dead target's
        // destroy waits out its retransmissions.
        var left: [String] = []
        if logOn {
          do { try environment.request { try source.stopDirtyLog(of: vm) } } catch {
            left.append(
              "its dirty log could not be stopped (\(reason(error)))")
          }
        }
        if pausedByUs {
          do { try environment.request { try source.unpauseMachine(named: vm) } } catch {
            left.append(
              "it could not be unpaused (\(reason(error)))")
          }
        }
        // Tried even when the target did not answer: one that was only unreachable for a
        // while would keep the incoming VM's memory claimed.
        if targetCreated {
          do { try environment.request { try target.destroyMachine(named: vm) } } catch {
            left.append(
              "the incoming VM on the target could not be destroyed (\(reason(error)); it never runs, and a restarted node has none)"
            )
          }
        }
        let outcome =
          left.isEmpty
          ? "\(vm) keeps running on its node"
          : "\(vm) keeps running on its node, but " + left.joined(separator: "; ")
        throw CLIError(.failure, "migration of \(vm) failed on the target (\(message)); \(outcome)")
      }
      var cleaned = "nothing was left on the target"
      if targetCreated {
        do {
          try environment.request { try target.destroyMachine(named: vm) }
          cleaned = "the incoming VM on the target was destroyed"
        } catch {
          cleaned = "the incoming VM on the target could not be destroyed (\(reason(error)))"
        }
      }
      // A source that answers but refused (not one that is gone: each request to a dead
      // node waits out the retransmissions) gets its VM back as it was: log off, unpaused.
      let unreachable = (failure.error as? CLIError)?.status == .unreachable
      if !unreachable {
        if logOn { _ = try? environment.request { try source.stopDirtyLog(of: vm) } }
        if pausedByUs {
          do {
            try environment.request { try source.unpauseMachine(named: vm) }
          } catch {
            cleaned += "; \(vm) is left paused on its node (\(reason(error)))"
          }
        }
      } else {
        cleaned += "; the source did not answer, so \(vm) may be lost with it"
      }
      throw CLIError(.failure, "migration of \(vm) failed on the source (\(message)); \(cleaned)")
    }
    let running = environment.now()
    // The target runs the VM: the source's copy goes, its disk with it.
    var sourceLeft: String? = nil
    do {
      try environment.request { try source.destroyMachine(named: vm) }
    } catch {
      sourceLeft = "\(error)"
    }
    return MigrationResult(
      machine: vm, totalSeconds: running.timeIntervalSince(started),
      downtimeSeconds: running.timeIntervalSince(downtimeStart), pagesPerRound: pagesPerRound,
      throttlePerRound: throttlePerRound,
      bytesSent: bytesSent, diskBytes: diskBytes, sourceNotDestroyed: sourceLeft)
  }
}

struct MigrationResult: Encodable {
  var machine: String
  var totalSeconds: Double
  /// From the source's pause to the target's answer that the VM runs.
  var downtimeSeconds: Double
  /// Round 0 is the whole memory (pages with data), the last is the stop-and-copy.
  var pagesPerRound: [Int]
  /// Auto-converge's throttle (% of the time the source held the vCPUs out) in each round.
  var throttlePerRound: [Int]
  var bytesSent: UInt64
  var diskBytes: UInt64
  /// Why the source's VM could not be destroyed after the target started (nil: it was).
  var sourceNotDestroyed: String?
}
