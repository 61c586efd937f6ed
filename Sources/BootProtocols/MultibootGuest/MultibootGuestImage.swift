/// A multiboot guest image, checked and reduced to what the loader copies: its header, the
/// segments (ELF PT_LOAD, or the a.out kludge's address fields), and the physical entry
/// point. Checked against the image alone; `MultibootGuestLayout` checks it against the VM.
public struct MultibootGuestImage: Equatable, Sendable {
  public var header: MultibootGuestHeader
  public var segments: [MultibootSegment]
  public var entry: UInt64

  public init(parsing bytes: UnsafeRawBufferPointer) throws(MultibootGuestError) {
    header = try MultibootGuestHeader(parsing: bytes)
    let image = ImageBytes(bytes: bytes)
    if let fields = header.addressFields {
      segments = [
        try Self.kludgeSegment(fields, headerOffset: header.offset, fileSize: image.count)
      ]
      guard let entry = header.entryAddress else { throw .missingEntryAddress }
      self.entry = UInt64(entry)
    } else {
      guard MultibootELF.isELF(image) else { throw .notELF }
      let loaded = try MultibootELF.load(image)
      segments = loaded.segments
      // The v2 entry address tag overrides the ELF's entry (§3.1.6).
      entry = header.entryAddress.map { UInt64($0) } ?? loaded.entry
    }
    let sorted = segments.sorted { $0.address < $1.address }
    for index in sorted.indices.dropFirst() where sorted[index - 1].end > sorted[index].address {
      throw .segmentsOverlap
    }
    guard segments.contains(where: { entry >= $0.address && entry < $0.end }) else {
      throw .entryOutsideSegments
    }
  }

  /// The a.out kludge (§3.1.3): the file from header_addr - load_addr bytes before the header
  /// is loaded at load_addr, up to load_end_addr (0: the file's end), then zeros up to
  /// bss_end_addr (0: none).
  static func kludgeSegment(
    _ fields: MultibootGuestHeader.AddressFields, headerOffset: Int, fileSize: Int
  ) throws(MultibootGuestError) -> MultibootSegment {
    let load = UInt64(fields.loadAddress)
    guard UInt64(fields.headerAddress) >= load,
      UInt64(fields.headerAddress) - load <= UInt64(headerOffset)
    else { throw .invalidAddressFields }
    let start = headerOffset - Int(UInt64(fields.headerAddress) - load)
    let loadSize: UInt64
    if fields.loadEndAddress == 0 {
      loadSize = UInt64(fileSize - start)
    } else {
      guard UInt64(fields.loadEndAddress) >= load else { throw .invalidAddressFields }
      loadSize = UInt64(fields.loadEndAddress) - load
      guard loadSize <= UInt64(fileSize - start) else { throw .segmentOutsideFile }
    }
    var memorySize = loadSize
    if fields.bssEndAddress != 0 {
      guard UInt64(fields.bssEndAddress) >= load + loadSize else { throw .invalidAddressFields }
      memorySize = UInt64(fields.bssEndAddress) - load
    }
    guard memorySize > 0 else { throw .invalidAddressFields }
    return MultibootSegment(
      fileBytes: start..<start + Int(loadSize), address: load, memorySize: memorySize)
  }
}
