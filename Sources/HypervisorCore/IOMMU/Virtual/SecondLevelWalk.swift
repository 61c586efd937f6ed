/// DMA address translation as a VT-d unit in legacy mode does it for a guest's tables (VT-d
/// spec rev 4.1 §3.4 root and context entries, §3.6 second-level translation, §9.1, §9.3,
/// §9.8): root table -> the bus's context table -> the device's context entry -> 3 or 4
/// levels of second-level tables, all read from the VM's RAM. Nothing is cached, so every
/// invalidation the guest issues is already satisfied. The walk reads only through
/// `GuestMemoryMap`: a table outside the VM's RAM is a fault, never host memory.
public enum SecondLevelWalk {
  /// What the walk found: the guest-physical address, or the fault reason code (§7.1.3,
  /// Table 24) with whether the context entry asked for faults not to be recorded (FPD).
  public enum Outcome: Equatable {
    case translated(UInt64)
    case fault(code: UInt8, recordingDisabled: Bool)
  }

  /// Fault reason codes the walk produces (§7.1.3).
  public enum Code {
    public static let rootNotPresent: UInt8 = 0x1
    public static let contextNotPresent: UInt8 = 0x2
    public static let contextInvalid: UInt8 = 0x3
    public static let addressBeyondWidth: UInt8 = 0x4
    public static let writeNotPermitted: UInt8 = 0x5
    public static let readNotPermitted: UInt8 = 0x6
    public static let pagingEntryUnreadable: UInt8 = 0x7
    public static let rootTableUnreadable: UInt8 = 0x8
    public static let contextTableUnreadable: UInt8 = 0x9
    public static let pagingEntryReserved: UInt8 = 0xC
  }

  /// Bits 51:12 of a table or page address (§9.8: HAW is the VM's 52-bit limit here).
  static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000
  static let read: UInt64 = 1 << 0
  static let write: UInt64 = 1 << 1
  /// PS (7) in a level-2 or level-3 entry: it maps a 2 MiB or 1 GiB page (§9.8).
  static let pageSize: UInt64 = 1 << 7

  /// Translates `address` for `requester`. `rootTable`: the root table pointer latched by
  /// SRTP; `capability` says which depths (SAGAW) and super-pages (SLLPS) are allowed and
  /// `passThrough` whether TT = 10 is (ECAP.PT).
  public static func translate(
    _ address: UInt64, write isWrite: Bool, requester: RequesterID, rootTable: UInt64,
    capability: RemappingCapability, passThrough: Bool, memory: GuestMemoryMap
  ) -> Outcome {
    // Root entry (§9.1): P (0), context-table pointer (63:12). Only the low half matters in
    // legacy mode.
    guard let root = memory.read64(rootTable & ~0xFFF + UInt64(requester.bus) * 16) else {
      return .fault(code: Code.rootTableUnreadable, recordingDisabled: false)
    }
    guard root & 1 != 0 else { return .fault(code: Code.rootNotPresent, recordingDisabled: false) }
    let contextAddress = root & addressMask + UInt64(requester.devfn) * 16
    guard let low = memory.read64(contextAddress), let high = memory.read64(contextAddress + 8)
    else { return .fault(code: Code.contextTableUnreadable, recordingDisabled: false) }
    let context = RemappingEntry(low: low, high: high)
    guard context.present else {
      return .fault(code: Code.contextNotPresent, recordingDisabled: false)
    }
    let quiet = low & (1 << 1) != 0  // FPD (§9.3)
    switch context.translationType {
    case 0: break
    case 2 where passThrough: return .translated(address)
    default: return .fault(code: Code.contextInvalid, recordingDisabled: quiet)
    }
    // AW (66:64): 1 = 39-bit, 3 levels; 2 = 48-bit, 4 levels; it must be one SAGAW offers.
    let aw = Int(high & 7)
    guard aw >= 1, aw <= 3, capability.supportedAddressWidths & (1 << UInt8(aw)) != 0 else {
      return .fault(code: Code.contextInvalid, recordingDisabled: quiet)
    }
    let levels = aw + 2
    let width = min(30 + 9 * aw, capability.maximumGuestAddressWidth)
    guard address >> UInt64(width) == 0 else {
      return .fault(code: Code.addressBeyondWidth, recordingDisabled: quiet)
    }
    let needed = isWrite ? write : read
    var table = low & addressMask
    for level in stride(from: levels, through: 1, by: -1) {
      let shift = UInt64(12 + 9 * (level - 1))
      guard let entry = memory.read64(table + (address >> shift & 0x1FF) * 8) else {
        return .fault(code: Code.pagingEntryUnreadable, recordingDisabled: quiet)
      }
      // Access rights are the AND of every level's R/W (§3.6.1); a not-present entry has
      // neither.
      guard entry & needed != 0 else {
        return .fault(
          code: isWrite ? Code.writeNotPermitted : Code.readNotPermitted, recordingDisabled: quiet)
      }
      if level == 1 { return .translated(entry & addressMask | address & 0xFFF) }
      if entry & pageSize != 0 {
        let superPage =
          (level == 2 && capability.supports2MPages) || (level == 3 && capability.supports1GPages)
        guard superPage else {
          return .fault(code: Code.pagingEntryReserved, recordingDisabled: quiet)
        }
        let offsetMask: UInt64 = (1 << shift) - 1
        return .translated(entry & addressMask & ~offsetMask | address & offsetMask)
      }
      table = entry & addressMask
    }
    return .fault(code: Code.pagingEntryReserved, recordingDisabled: quiet)  // not reached
  }
}
