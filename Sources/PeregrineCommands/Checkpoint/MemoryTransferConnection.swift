import ControlClient
import ControlProtocol
import Foundation

/// What `checkpoint` and `restore` ask of a node beyond `NodeConnection` (docs/checkpoint.md):
/// the raw saved state, guest memory both ways, and the restore itself. The control
/// protocol's connection implements it; test fakes may.
public protocol MemoryTransferConnection: NodeConnection {
  /// The paused VM's `SavedVMState` records, as the node sent them.
  func savedStateBytes(of name: String) throws -> [UInt8]
  /// The paused VM's memory, its chunks of zeros left out.
  func readMemory(of name: String, progress: (UInt64, UInt64) -> Void) throws -> SparseImage
  /// Writes chunks (at most 1024 bytes each) into an incoming VM's memory.
  func writeMemory(
    of name: String, chunks: [(offset: UInt64, bytes: [UInt8])], progress: (Int, Int) -> Void)
    throws
  /// Sends the state as an image, then has the node restore it into incoming VM `name` and
  /// start it.
  func restoreState(of name: String, state: [UInt8]) throws
}

extension ControlConnection: MemoryTransferConnection {
  func savedStateBytes(of name: String) throws -> [UInt8] {
    try call(vm: name) { try client.statusWithState(of: Array(name.utf8)).1 }
  }

  func readMemory(of name: String, progress: (UInt64, UInt64) -> Void) throws -> SparseImage {
    let read = try call(vm: name) {
      try client.readMemory(of: Array(name.utf8), progress: progress)
    }
    return SparseImage(size: read.size, chunks: read.chunks.map { ($0.offset, $0.bytes) })
  }

  func writeMemory(
    of name: String, chunks: [(offset: UInt64, bytes: [UInt8])], progress: (Int, Int) -> Void
  ) throws {
    try call(vm: name) {
      try client.writeMemory(
        of: Array(name.utf8),
        chunks: chunks.map { MemoryChunk(offset: $0.offset, bytes: $0.bytes) },
        progress: progress)
    }
  }

  func restoreState(of name: String, state: [UInt8]) throws {
    let image = Array("\(name).state".utf8)
    try call(vm: name) {
      _ = try client.transfer(state, as: image)
      _ = try client.perform(.restoreState(name: Array(name.utf8), stateImage: image))
    }
  }
}
