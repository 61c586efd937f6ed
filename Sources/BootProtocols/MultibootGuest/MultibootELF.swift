/// The loadable segments and entry point of an ELF32 (EM_386) or ELF64 (EM_X86_64)
/// executable (System V ABI, "ELF Header" and "Program Header"), as a multiboot loader takes
/// them: PT_LOAD segments at their physical addresses (p_paddr), as GRUB loads them.
enum MultibootELF {
  static let pageLoad: UInt32 = 1  // PT_LOAD
  static let executable: UInt16 = 2  // ET_EXEC
  static let machine386: UInt16 = 3  // EM_386
  static let machineX86_64: UInt16 = 62  // EM_X86_64

  static func isELF(_ image: ImageBytes) -> Bool { image.u32(at: 0) == 0x464C_457F }

  /// The segments with bytes in memory, and the entry point as a physical address: e_entry,
  /// moved by p_paddr - p_vaddr of the segment it lies in (a higher-half kernel's entry).
  static func load(_ image: ImageBytes) throws(MultibootGuestError)
    -> (segments: [MultibootSegment], entry: UInt64)
  {
    guard let identity = image.u32(at: 4) else { throw .malformedELF }
    let elfClass = UInt8(truncatingIfNeeded: identity)
    let data = UInt8(truncatingIfNeeded: identity >> 8)
    let is64 = elfClass == 2
    guard elfClass == 1 || is64, data == 1, let type = image.u16(at: 16),
      let machine = image.u16(at: 18)
    else { throw .malformedELF }
    guard type == executable, machine == (is64 ? machineX86_64 : machine386) else {
      throw .malformedELF
    }
    let entry: UInt64
    let tableOffset: UInt64
    let entrySize: UInt16
    let count: UInt16
    if is64 {
      guard let e = image.u64(at: 24), let t = image.u64(at: 32), let s = image.u16(at: 54),
        let c = image.u16(at: 56), s >= 56
      else { throw .malformedELF }
      (entry, tableOffset, entrySize, count) = (e, t, s, c)
    } else {
      guard let e = image.u32(at: 24), let t = image.u32(at: 28), let s = image.u16(at: 42),
        let c = image.u16(at: 44), s >= 32
      else { throw .malformedELF }
      (entry, tableOffset, entrySize, count) = (UInt64(e), UInt64(t), s, c)
    }
    guard tableOffset + UInt64(entrySize) * UInt64(count) <= UInt64(image.count) else {
      throw .malformedELF
    }
    var segments: [MultibootSegment] = []
    var physicalEntry = entry
    for index in 0..<Int(count) {
      let header = Int(tableOffset) + index * Int(entrySize)
      guard let segment = try programHeader(image, at: header, is64: is64) else { continue }
      if entry >= segment.virtualAddress && entry - segment.virtualAddress < segment.load.memorySize
      {
        physicalEntry = entry - segment.virtualAddress + segment.load.address
      }
      segments.append(segment.load)
    }
    guard !segments.isEmpty else { throw .noLoadableSegments }
    return (segments, physicalEntry)
  }

  /// One program header: nil unless PT_LOAD with bytes in memory.
  static func programHeader(_ image: ImageBytes, at offset: Int, is64: Bool)
    throws(MultibootGuestError) -> (load: MultibootSegment, virtualAddress: UInt64)?
  {
    guard let type = image.u32(at: offset) else { throw .malformedELF }
    let fileOffset: UInt64
    let virtualAddress: UInt64
    let physicalAddress: UInt64
    let fileSize: UInt64
    let memorySize: UInt64
    if is64 {
      guard let o = image.u64(at: offset + 8), let v = image.u64(at: offset + 16),
        let p = image.u64(at: offset + 24), let f = image.u64(at: offset + 32),
        let m = image.u64(at: offset + 40)
      else { throw .malformedELF }
      (fileOffset, virtualAddress, physicalAddress, fileSize, memorySize) = (o, v, p, f, m)
    } else {
      guard let o = image.u32(at: offset + 4), let v = image.u32(at: offset + 8),
        let p = image.u32(at: offset + 12), let f = image.u32(at: offset + 16),
        let m = image.u32(at: offset + 20)
      else { throw .malformedELF }
      (fileOffset, virtualAddress, physicalAddress, fileSize, memorySize) = (
        UInt64(o), UInt64(v), UInt64(p), UInt64(f), UInt64(m)
      )
    }
    guard type == pageLoad, memorySize > 0 else { return nil }
    guard fileSize <= memorySize else { throw .malformedELF }
    guard fileOffset <= UInt64(image.count), fileSize <= UInt64(image.count) - fileOffset else {
      throw .segmentOutsideFile
    }
    guard physicalAddress <= UInt64.max - memorySize else { throw .segmentOutsideMemory }
    let start = Int(fileOffset)
    return (
      MultibootSegment(
        fileBytes: start..<start + Int(fileSize), address: physicalAddress,
        memorySize: memorySize),
      virtualAddress
    )
  }
}
