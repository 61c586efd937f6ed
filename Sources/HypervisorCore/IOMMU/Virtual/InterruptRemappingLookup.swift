/// Interrupt remapping of one request as a VT-d unit does it for a guest's table (VT-d spec
/// rev 4.1 §5.1.4 "Interrupt-Remapping Hardware Operation", §5.1.5 request formats, §9.10
/// the IRTE), xAPIC mode only (EIME = 0, no ECAP.EIM). The IRTE is read from the VM's RAM
/// on every request: nothing is cached, so interrupt-entry-cache invalidations need no work.
public enum InterruptRemappingLookup {
  /// Where a remapped interrupt goes, from its IRTE (§9.10, IM = 0).
  public struct Target: Equatable {
    public var vector: UInt8
    /// The 8-bit xAPIC destination (DST 47:40).
    public var destination: UInt8
    /// DM (2): 1 = logical.
    public var logical: Bool
    /// RH (3).
    public var redirectionHint: Bool
    /// TM (4): 1 = level.
    public var level: Bool
    /// DLM (7:5): 0 fixed, 1 lowest priority, 4 NMI, ...
    public var deliveryMode: UInt8

    /// The compatibility-format message the local APICs decode (SDM 3A §11.11.1, §11.11.2).
    public var message: (address: UInt64, data: UInt32) {
      let address =
        0xFEE0_0000 | UInt64(destination) << 12 | (redirectionHint ? 1 << 3 : 0)
        | (logical ? 1 << 2 : 0)
      let data = UInt32(vector) | UInt32(deliveryMode) << 8 | (level ? 1 << 15 : 0)
      return (address, data)
    }
  }

  public enum Outcome: Equatable {
    /// Not subject to remapping (IRE off, or compatibility format with CFIS set): deliver
    /// the request as it is.
    case unchanged
    case remapped(Target)
    /// Blocked with the fault reason (§7.1.3, Table 25: 0x20-0x26), and whether the IRTE
    /// asked for it not to be recorded (FPD) plus the interrupt index (0 when none).
    case blocked(code: UInt8, recordingDisabled: Bool, index: UInt16)
  }

  /// Remaps the message (`address`, `data`) from `requester` (nil: the I/O APIC, whose
  /// requests carry no PCI requester id here, so no source-id check applies, as in QEMU).
  /// `tableAddress`: IRTA as latched by SIRTP; `enabled`: GSTS.IRES; `compatibilityAllowed`:
  /// GSTS.CFIS.
  public static func remap(
    address: UInt64, data: UInt32, requester: RequesterID?, tableAddress: UInt64, enabled: Bool,
    compatibilityAllowed: Bool, memory: GuestMemoryMap
  ) -> Outcome {
    guard enabled else { return .unchanged }
    guard let handle = HostMSIFormat.handle(address: address, data: data) else {
      // Compatibility format (§5.1.4): passes only with CFIS.
      return compatibilityAllowed
        ? .unchanged : .blocked(code: 0x25, recordingDisabled: false, index: 0)
    }
    // IRTA (§11.4.10.1): S (3:0) gives 2^(S+1) entries.
    let entries = UInt32(1) << UInt32((tableAddress & 0xF) + 1)
    guard UInt32(handle) < entries else {
      return .blocked(code: 0x21, recordingDisabled: false, index: handle)
    }
    let slot = tableAddress & ~0xFFF + UInt64(handle) * 16
    guard let low = memory.read64(slot), let high = memory.read64(slot + 8) else {
      return .blocked(code: 0x23, recordingDisabled: false, index: handle)
    }
    let entry = InterruptRemappingEntry(low: low, high: high)
    let quiet = low & (1 << 1) != 0  // FPD
    guard entry.present else {
      return .blocked(code: 0x22, recordingDisabled: quiet, index: handle)
    }
    // IM (15) = 1 is a posted-interrupt entry: no CAP.PI here, so its bits are reserved;
    // so are an SVT of 11 and, in xAPIC mode, DST bits other than 47:40.
    guard low & (1 << 15) == 0, entry.sourceValidation != 3,
      low & 0xFFFF_00FF_0000_0000 == 0
    else { return .blocked(code: 0x24, recordingDisabled: quiet, index: handle) }
    if let requester, !sourcePasses(requester, entry) {
      return .blocked(code: 0x26, recordingDisabled: quiet, index: handle)
    }
    return .remapped(
      Target(
        vector: entry.vector, destination: entry.apicID, logical: low & (1 << 2) != 0,
        redirectionHint: low & (1 << 3) != 0, level: low & (1 << 4) != 0,
        deliveryMode: UInt8(low >> 5 & 7)))
  }

  /// The source-id check (§9.10 SVT/SQ): SVT 01 compares the requester id with SID, minus
  /// the function bits SQ masks (01: bit 2, 10: bits 2:1, 11: bits 2:0); SVT 10 accepts
  /// buses SID[15:8] through SID[7:0]; SVT 00 checks nothing.
  static func sourcePasses(_ requester: RequesterID, _ entry: InterruptRemappingEntry) -> Bool {
    let sid = entry.sourceID
    switch entry.sourceValidation {
    case 1:
      let ignored: UInt16
      switch entry.high >> 16 & 3 {
      case 1: ignored = 0b100
      case 2: ignored = 0b110
      case 3: ignored = 0b111
      default: ignored = 0
      }
      return requester.sourceID & ~ignored == sid & ~ignored
    case 2:
      return requester.bus >= UInt8(sid >> 8) && requester.bus <= UInt8(truncatingIfNeeded: sid)
    default: return true
    }
  }

  /// The message an I/O APIC redirection entry sends (§5.1.5.1): a remappable entry (bit
  /// 48) carries interrupt_index[14:0] in 63:49 and [15] in 11 and becomes a remappable
  /// message (SHV = 0); a compatibility entry becomes the message the APICs decode.
  public static func message(ofRedirectionEntry entry: UInt64) -> (address: UInt64, data: UInt32) {
    let trigger = UInt32(truncatingIfNeeded: entry >> 15 & 1) << 15
    if entry & (1 << 48) != 0 {
      let index = UInt64(entry >> 49 & 0x7FFF)
      let address = 0xFEE0_0000 | index << 5 | 1 << 4 | (entry >> 11 & 1) << 2
      return (address, UInt32(truncatingIfNeeded: entry & 0xFF) | trigger)
    }
    let address = 0xFEE0_0000 | (entry >> 56) << 12 | (entry >> 11 & 1) << 2
    let data = UInt32(truncatingIfNeeded: entry & 0x7FF) | trigger
    return (address, data)
  }
}
