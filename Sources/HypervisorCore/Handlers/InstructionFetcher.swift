import Memory

/// Reads the guest's instruction at RIP: CS base plus RIP, through the guest's own page
/// tables when paging is on, from the VM's RAM. Needed to emulate MMIO and, on SVM
/// without NRIPS, to learn an exiting instruction's length.
public enum InstructionFetcher {
  public static func pagingMode(of mode: GuestMode) -> GuestPagingMode {
    guard mode.pagingEnabled else { return .none }
    if mode.efer & (1 << 10) != 0 { return .longMode4Level }  // EFER.LMA
    if mode.cr4 & (1 << 5) != 0 { return .pae }  // CR4.PAE
    return .protected32(pageSizeExtensions: mode.cr4 & (1 << 4) != 0)
  }

  /// Guest-linear to guest-physical, or nil when the guest's tables do not map it.
  public static func translate(_ linear: UInt64, mode: GuestMode, memory: GuestMemoryMap) -> UInt64?
  {
    let paging = pagingMode(of: mode)
    if paging == .none { return linear }
    let entrySize: UInt64
    if case .protected32 = paging { entrySize = 4 } else { entrySize = 8 }
    return GuestPageWalker.translate(linear: linear, cr3: mode.cr3, mode: paging) { address in
      entrySize == 4 ? memory.read32(address).map { UInt64($0) } : memory.read64(address)
    }
  }

  /// Guest-linear to guest-physical with the translation's U/S and R/W rights (unrestricted
  /// with paging off), or nil when the guest's tables do not map it. For emulated data
  /// accesses only: the instruction fetch uses `translate`.
  public static func translateWithRights(_ linear: UInt64, mode: GuestMode, memory: GuestMemoryMap)
    -> GuestTranslation?
  {
    let paging = pagingMode(of: mode)
    if paging == .none { return GuestTranslation(physical: linear, rights: .unrestricted) }
    let entrySize: UInt64
    if case .protected32 = paging { entrySize = 4 } else { entrySize = 8 }
    return GuestPageWalker.translateWithRights(linear: linear, cr3: mode.cr3, mode: paging) {
      address in
      entrySize == 4 ? memory.read32(address).map { UInt64($0) } : memory.read64(address)
    }
  }

  /// The linear address of RIP: 16-bit code wraps IP at 64 KiB.
  public static func linearInstructionPointer(rip: UInt64, mode: GuestMode) -> UInt64 {
    switch mode.width {
    case .real, .protected16: return mode.codeSegmentBase &+ (rip & 0xFFFF)
    case .protected32: return (mode.codeSegmentBase &+ (rip & 0xFFFF_FFFF)) & 0xFFFF_FFFF
    case .long64: return rip
    }
  }

  /// Up to 15 bytes at RIP; fewer when the instruction may end at the edge of mapped
  /// memory; nil when not even the first byte can be read.
  public static func fetch(rip: UInt64, mode: GuestMode, memory: GuestMemoryMap)
    -> InstructionBytes?
  {
    let linear = linearInstructionPointer(rip: rip, mode: mode)
    var bytes = InstructionBytes()
    var address = linear
    while bytes.count < InstructionBytes.maximumCount {
      guard let physical = translate(address, mode: mode, memory: memory) else { break }
      // Read to the end of this page at most; the next page translates on its own.
      let inPage = 4096 - (address & 0xFFF)
      let wanted = min(UInt64(InstructionBytes.maximumCount - bytes.count), inPage)
      guard let source = memory.pointer(to: physical, length: wanted) else { break }
      for index in 0..<Int(wanted) {
        _ = bytes.append(source.load(fromByteOffset: index, as: UInt8.self))
      }
      address &+= wanted
    }
    return bytes.count == 0 ? nil : bytes
  }
}
