/// Serving one request, `struct virtio_blk_req` (virtio 1.1 §5.2.6): a 16-byte
/// device-readable header {le32 type, le32 reserved, le64 sector}, the data (readable for
/// OUT, DISCARD and WRITE_ZEROES; writable for IN and GET_ID), and the 1-byte writable status
/// last. The fields may be split across buffers anywhere (§2.6.4).
extension VirtioBlockDevice {
  /// Serves `chain` and answers in its last writable byte; returns the bytes written into
  /// its writable buffers (the used element's len). A chain with no writable byte has no
  /// status to answer in: it is given back with nothing done and nothing written.
  func serve(_ chain: DescriptorChain, memory: GuestMemoryMap) -> UInt32 {
    let readable = GuestBufferStream(chain.buffers.filter { !$0.writable }, memory: memory)
    let writable = GuestBufferStream(chain.buffers.filter { $0.writable }, memory: memory)
    let writableLength = writable.length
    guard writableLength >= 1 else {
      statistics.unanswerable &+= 1
      return 0
    }
    // The writable data, before the status byte.
    let dataCapacity = writableLength - 1
    let (status, dataWritten) = perform(readable: readable, writable: writable, dataCapacity)
    if status == .ioError { statistics.ioErrors &+= 1 }
    var byte = status.rawValue
    guard writable.copyIn(from: &byte, count: 1, at: dataCapacity) else {
      statistics.unanswerable &+= 1
      return 0
    }
    return UInt32(truncatingIfNeeded: dataWritten + 1)
  }

  /// The request's outcome and the data bytes it wrote (before the status byte).
  private func perform(
    readable: GuestBufferStream, writable: GuestBufferStream, _ dataCapacity: UInt64
  ) -> (VirtioBlockStatus, UInt64) {
    let header = VirtioBlockLayout.headerSize
    let readableLength = readable.length
    guard readableLength >= header, let type = readable.loadInteger(at: 0, width: 4),
      let sector = readable.loadInteger(at: 8, width: 8)
    else {
      statistics.shortHeaders &+= 1
      return (.ioError, 0)
    }
    let dataToDisk = readableLength - header
    switch UInt32(truncatingIfNeeded: type) {
    case VirtioBlockRequestType.read:
      statistics.reads &+= 1
      guard dataToDisk == 0, let source = diskBytes(sector: sector, count: dataCapacity),
        writable.copyIn(from: source, count: dataCapacity, at: 0)
      else { return (.ioError, 0) }
      statistics.bytesRead &+= dataCapacity
      return (.ok, dataCapacity)
    case VirtioBlockRequestType.write:
      statistics.writes &+= 1
      guard !readOnly, dataCapacity == 0,
        let destination = diskBytes(sector: sector, count: dataToDisk),
        readable.copyOut(from: header, count: dataToDisk, to: destination)
      else { return (.ioError, 0) }
      statistics.bytesWritten &+= dataToDisk
      return (.ok, 0)
    case VirtioBlockRequestType.flush:
      // The image is node memory, which `save` reads: every completed write is already there.
      statistics.flushes &+= 1
      return dataToDisk == 0 ? (.ok, 0) : (.ioError, 0)
    case VirtioBlockRequestType.getID:
      statistics.identifications &+= 1
      let size = VirtioBlockLayout.identifierSize
      guard dataToDisk == 0, dataCapacity >= size else { return (.ioError, 0) }
      var identifier = [UInt8](repeating: 0, count: Int(size))
      for (index, character) in disk.name.prefix(Int(size)).enumerated() {
        identifier[index] = character
      }
      let copied = identifier.withUnsafeBytes {
        writable.copyIn(from: $0.baseAddress!, count: size, at: 0)
      }
      return copied ? (.ok, size) : (.ioError, 0)
    case VirtioBlockRequestType.discard:
      statistics.discards &+= 1
      return zeroRanges(readable, dataToDisk, discard: true)
    case VirtioBlockRequestType.writeZeroes:
      statistics.writeZeroes &+= 1
      return zeroRanges(readable, dataToDisk, discard: false)
    default:
      statistics.unsupported &+= 1
      return (.unsupported, 0)
    }
  }

  /// Where `count` bytes of the disk from `sector` start in the image, or nil when they are
  /// not whole sectors or (counted) do not lie wholly inside the disk.
  func diskBytes(sector: UInt64, count: UInt64) -> UnsafeMutableRawPointer? {
    let sectorSize = VirtioBlockLayout.sectorSize
    guard count % sectorSize == 0 else { return nil }
    // capacity × 512 ≤ the image's size: neither product below overflows.
    guard sector <= capacity, count / sectorSize <= capacity - sector,
      let base = disk.bytes.baseAddress
    else {
      statistics.outOfRange &+= 1
      return nil
    }
    return base + Int(sector * sectorSize)
  }

  /// DISCARD and WRITE_ZEROES (§5.2.6.2): `length` bytes of 16-byte ranges after the header,
  /// all checked before any is done. A discard leaves the bytes as they are (what a later
  /// read returns is unspecified without write_zeroes_may_unmap); write-zeroes zeroes them.
  private func zeroRanges(
    _ readable: GuestBufferStream, _ length: UInt64, discard: Bool
  ) -> (VirtioBlockStatus, UInt64) {
    let rangeSize = VirtioBlockLayout.rangeSize
    let header = VirtioBlockLayout.headerSize
    guard !readOnly, length > 0, length % rangeSize == 0,
      length / rangeSize <= UInt64(Self.mostRanges)
    else { return (.ioError, 0) }
    var ranges: [(start: UnsafeMutableRawPointer, bytes: UInt64)] = []
    for index in 0..<length / rangeSize {
      let base = header + index * rangeSize
      guard let sector = readable.loadInteger(at: base, width: 8),
        let count = readable.loadInteger(at: base + 8, width: 4),
        let flags = readable.loadInteger(at: base + 12, width: 4)
      else { return (.ioError, 0) }
      // Discard takes no flag (unmap is write-zeroes' hint); unknown flags are refused.
      let allowed = discard ? 0 : UInt64(VirtioBlockLayout.unmapFlag)
      guard flags & ~allowed == 0 else { return (.unsupported, 0) }
      let bytes = count * VirtioBlockLayout.sectorSize
      guard count <= UInt64(Self.largestZeroedRange),
        let start = diskBytes(sector: sector, count: bytes)
      else { return (.ioError, 0) }
      ranges.append((start, bytes))
    }
    guard !discard else { return (.ok, 0) }
    for range in ranges {
      range.start.initializeMemory(
        as: UInt8.self, repeating: 0, count: Int(range.bytes))
      statistics.bytesWritten &+= range.bytes
    }
    return (.ok, 0)
  }
}
