import ControlClient
import ControlProtocol
import Foundation

/// What `migrate` asks of a node beyond checkpoint's memory transfer (docs/migration.md):
/// the dirty log, and chosen chunks of a running VM's memory.
protocol MigrationConnection: MemoryTransferConnection {
  /// Dirty log on, every page dirty; answers the VM's page count.
  func startDirtyLog(of name: String) throws -> UInt64
  /// A snapshot: the pages written since the last one, in order.
  func dirtyPages(of name: String) throws -> [UInt64]
  func stopDirtyLog(of name: String) throws
  /// Renews the node's migration lease of the VM (source or incoming copy) for
  /// `milliseconds` from now (docs/migration.md, "A CLI that dies").
  func renewLease(of name: String, milliseconds: UInt64) throws
  /// The source's copy is about to be replaced by the target's: its lapsing lease must not
  /// resume it.
  func handOver(_ name: String) throws
  /// Auto-converge: the source holds the VM's vCPUs out `percent` % of the time (0 lifts).
  func throttle(_ name: String, percent: Int) throws
  /// The chunks at `offsets` (multiples of 1024), zero chunks as zeros.
  func readMemoryChunks(of name: String, at offsets: [UInt64], memorySize: UInt64) throws
    -> [(offset: UInt64, bytes: [UInt8])]
  /// The whole memory as `readMemory` reads it, each chunk of data handed to `received` as
  /// its answer arrives (round 0 writes it to the target meanwhile, MemoryRelay).
  func streamMemory(of name: String, received: ((offset: UInt64, bytes: [UInt8])) -> Void)
    throws
  /// `readMemoryChunks`, each chunk handed to `received` as its answer arrives.
  func streamMemoryChunks(
    of name: String, at offsets: [UInt64], memorySize: UInt64,
    received: ((offset: UInt64, bytes: [UInt8])) -> Void) throws
}

extension ControlConnection: MigrationConnection {
  func startDirtyLog(of name: String) throws -> UInt64 {
    try call(vm: name) { try client.dirtyLog(of: Array(name.utf8), .start).pageCount }
  }

  func dirtyPages(of name: String) throws -> [UInt64] {
    try call(vm: name) { try client.dirtyPageSnapshot(of: Array(name.utf8)).pages }
  }

  func stopDirtyLog(of name: String) throws {
    _ = try call(vm: name) { try client.dirtyLog(of: Array(name.utf8), .stop) }
  }

  func renewLease(of name: String, milliseconds: UInt64) throws {
    _ = try call(vm: name) {
      try client.dirtyLog(of: Array(name.utf8), .lease, startPage: milliseconds)
    }
  }

  func handOver(_ name: String) throws {
    _ = try call(vm: name) { try client.dirtyLog(of: Array(name.utf8), .handOver) }
  }

  func throttle(_ name: String, percent: Int) throws {
    _ = try call(vm: name) {
      try client.dirtyLog(of: Array(name.utf8), .throttle, startPage: UInt64(max(percent, 0)))
    }
  }

  func streamMemory(of name: String, received: ((offset: UInt64, bytes: [UInt8])) -> Void)
    throws
  {
    _ = try call(vm: name) {
      try client.readMemory(of: Array(name.utf8)) { chunk in received((chunk.offset, chunk.bytes)) }
    }
  }

  func streamMemoryChunks(
    of name: String, at offsets: [UInt64], memorySize: UInt64,
    received: ((offset: UInt64, bytes: [UInt8])) -> Void
  ) throws {
    _ = try call(vm: name) {
      try client.readMemoryChunks(of: Array(name.utf8), at: offsets, memorySize: memorySize) {
        received(($0.offset, $0.bytes))
      }
    }
  }

  func readMemoryChunks(of name: String, at offsets: [UInt64], memorySize: UInt64) throws
    -> [(offset: UInt64, bytes: [UInt8])]
  {
    try call(vm: name) {
      try client.readMemoryChunks(of: Array(name.utf8), at: offsets, memorySize: memorySize)
        .map { ($0.offset, $0.bytes) }
    }
  }
}
