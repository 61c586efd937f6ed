/// Finds room for memory BARs the firmware did not place (SR-IOV VF BARs: firmware such as
/// SeaBIOS sizes only a function's own six BARs and its ROM): the lowest naturally aligned
/// range of the given size inside a window that overlaps none of the ranges already in use.
public struct PCIMemoryGap: Sendable {
  public var start: UInt64
  public var end: UInt64
  /// Half-open `[start, end)` ranges already decoded by something (BARs, ROMs, the ECAM
  /// window, ranges placed earlier by this finder).
  public private(set) var used: [(start: UInt64, end: UInt64)] = []

  /// The window `[start, end)` in which to place.
  public init(start: UInt64, end: UInt64) {
    self.start = start
    self.end = end
  }

  public mutating func markUsed(base: UInt64, size: UInt64) {
    guard size > 0 else { return }
    let (end, overflow) = base.addingReportingOverflow(size)
    used.append((base, overflow ? UInt64.max : end))
  }

  /// The lowest `size`-aligned base (size a power of two) with `[base, base + size)` inside
  /// the window and clear of every used range; the range is then marked used. Nil when no
  /// such range exists.
  public mutating func place(size: UInt64) -> UInt64? {
    guard size > 0, size & (size - 1) == 0 else { return nil }
    var candidate = align(start, size)
    while let base = candidate {
      let (limit, overflow) = base.addingReportingOverflow(size)
      guard !overflow, limit <= end else { return nil }
      // The first used range it overlaps decides where to try next: just past it.
      if let blocking = used.filter({ $0.start < limit && base < $0.end }).max(by: {
        $0.end < $1.end
      }) {
        candidate = align(blocking.end, size)
        continue
      }
      used.append((base, limit))
      return base
    }
    return nil
  }

  private func align(_ value: UInt64, _ alignment: UInt64) -> UInt64? {
    let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
    return overflow ? nil : sum & ~(alignment - 1)
  }
}

/// One MCFG allocation (PCI Firmware 3.2 §4.1.2): the ECAM window of a segment's bus range.
public struct PCIExpressConfigurationRegion: Equatable, Sendable {
  public var base: UInt64
  public var segment: UInt16
  public var startBus: UInt8
  public var endBus: UInt8

  /// The window's length: 1 MiB per bus (PCIe Base 4.0 §7.2.2: bus 27:20, device 19:15,
  /// function 14:12, register 11:0).
  public var length: UInt64 { (UInt64(endBus) - UInt64(startBus) + 1) << 20 }

  /// Where `address`'s 4 KiB space starts, or nil when its bus is outside the range.
  public func functionBase(_ address: PCIAddress) -> UInt64? {
    guard address.bus >= startBus, address.bus <= endBus else { return nil }
    return base + UInt64(address.bus - startBus) << 20 | UInt64(address.device) << 15
      | UInt64(address.function) << 12
  }

  /// The allocations of an MCFG table (its bytes, header included): 16-byte entries after
  /// the 36-byte header and 8 reserved bytes. Entries with the end bus below the start, a
  /// base that is not 1 MiB aligned, or a window that would wrap are left out, as is a
  /// partial entry at the end.
  public static func parse(mcfg bytes: [UInt8]) -> [PCIExpressConfigurationRegion] {
    var result: [PCIExpressConfigurationRegion] = []
    var offset = 44
    while offset + 16 <= bytes.count, result.count < 256 {
      var base: UInt64 = 0
      for i in 0..<8 { base |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
      let region = PCIExpressConfigurationRegion(
        base: base, segment: UInt16(bytes[offset + 8]) | UInt16(bytes[offset + 9]) << 8,
        startBus: bytes[offset + 10], endBus: bytes[offset + 11])
      offset += 16
      guard region.endBus >= region.startBus, base & 0xF_FFFF == 0,
        !base.addingReportingOverflow(region.length).overflow
      else { continue }
      result.append(region)
    }
    return result
  }
}
