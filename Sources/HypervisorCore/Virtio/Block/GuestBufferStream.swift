/// The guest buffers of one direction of a request (the device-readable ones, or the
/// device-writable ones) as one run of bytes: virtio 1.1 §2.6.4 lets the driver split a
/// request across descriptors anywhere, so the device never assumes a field is in one
/// buffer. Every piece it hands out lies inside guest RAM (`GuestMemoryMap.pointer`).
struct GuestBufferStream {
  let buffers: [GuestBuffer]
  let memory: GuestMemoryMap

  init(_ buffers: [GuestBuffer], memory: GuestMemoryMap) {
    self.buffers = buffers
    self.memory = memory
  }

  var length: UInt64 {
    var total: UInt64 = 0
    for buffer in buffers { total += UInt64(buffer.length) }
    return total
  }

  /// Calls `body` for each piece of the bytes [start, start + count) of the run, in order,
  /// with the piece's host pointer, its length and its offset from `start`. False when the
  /// range is not wholly inside the run (nothing visited) or a buffer is not in guest RAM
  /// (never for a chain `DeviceVirtqueue` handed out, whose buffers it checked; the pieces
  /// before it were visited, all inside checked ranges).
  func visit(
    from start: UInt64, count: UInt64,
    _ body: (UnsafeMutableRawPointer, Int, UInt64) -> Void
  ) -> Bool {
    guard start <= length, count <= length - start else { return false }
    var skip = start
    var done: UInt64 = 0
    for buffer in buffers where done < count {
      let length = UInt64(buffer.length)
      if skip >= length {
        skip -= length
        continue
      }
      let piece = min(length - skip, count - done)
      guard let pointer = memory.pointer(to: buffer.guestPhysical + skip, length: piece) else {
        return false
      }
      body(pointer, Int(piece), done)
      done += piece
      skip = 0
    }
    return done == count
  }

  /// Copies `count` bytes of the run from `start` to `destination`.
  func copyOut(from start: UInt64, count: UInt64, to destination: UnsafeMutableRawPointer) -> Bool {
    visit(from: start, count: count) { piece, length, offset in
      (destination + Int(offset)).copyMemory(from: piece, byteCount: length)
    }
  }

  /// Copies `count` bytes from `source` into the run at `start`.
  func copyIn(from source: UnsafeRawPointer, count: UInt64, at start: UInt64) -> Bool {
    let copied = visit(from: start, count: count) { piece, length, offset in
      piece.copyMemory(from: source + Int(offset), byteCount: length)
    }
    noteWrites(from: start, count: count)
    return copied
  }

  /// The dirty log marks the guest pages of the run's bytes [start, start + count).
  private func noteWrites(from start: UInt64, count: UInt64) {
    guard memory.writeLog != nil else { return }
    var skip = start
    var done: UInt64 = 0
    for buffer in buffers where done < count {
      let length = UInt64(buffer.length)
      if skip >= length {
        skip -= length
        continue
      }
      let piece = min(length - skip, count - done)
      memory.noteWrite(buffer.guestPhysical + skip, length: piece)
      done += piece
      skip = 0
    }
  }

  /// Little-endian integer of `width` bytes (at most 8) at `start`.
  func loadInteger(at start: UInt64, width: Int) -> UInt64? {
    var bytes: UInt64 = 0
    let ok = withUnsafeMutableBytes(of: &bytes) { raw in
      copyOut(from: start, count: UInt64(width), to: raw.baseAddress!)
    }
    return ok ? UInt64(littleEndian: bytes) : nil
  }
}
