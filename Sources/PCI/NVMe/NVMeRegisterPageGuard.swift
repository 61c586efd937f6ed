/// What the NVMe admin guard does with a guest's access to its VF's register page (BAR0
/// 0x0-0xFFF, NVM Express 1.4 §3.1; docs/passthrough.md, "NVMe admin guard"): the decisions
/// only, so the host tests reach them; the kernel's `NVMeAdminShadow` performs the actions
/// (MMIO, nested-page protection, slot copies).
///
/// Five dwords are the guard's: CC (0x14), NSSR (0x20), AQA (0x24) and ASQ (0x28, 0x2C).
/// - ASQ is the guest's, kept here for its reads; the device's ASQ only ever gets the shadow
///   queue's I/O address, written at each enable.
/// - NSSR is dropped: "NVMe" there resets every controller of the subsystem (§3.1.6, §7.3.1),
///   the other VMs' VFs too.
/// - CC.EN 0 → 1 enables the guard before CC reaches the device (§7.6.1: ASQ and AQA are set
///   by then), CC.EN 1 → 0 disables it after.
/// - AQA and CC go to the device as whole dwords.
///
/// An access is taken apart at dword boundaries. A byte or word of one of the five dwords
/// (and each such piece of an unaligned access) is merged into its dword first, with the
/// device's current value (CC, AQA), the guest's (ASQ) or zero (NSSR), so the device never
/// sees part of one (§3.1 describes whole-register accesses; what a controller does with a
/// partial or misaligned one is not specified).
/// The other dwords' pieces of such an access go to the device as naturally aligned pieces;
/// an access that touches none of the five goes as it is (a 64-bit one as two 32-bit
/// writes, low first: 64-bit registers may be written so, §3.1).
public struct NVMeRegisterPageGuard: Equatable {
  public static let configuration: UInt64 = 0x14
  public static let subsystemReset: UInt64 = 0x20
  public static let adminQueueAttributes: UInt64 = 0x24
  public static let adminSubmissionQueue: UInt64 = 0x28
  /// "NVMe": the value whose write to NSSR starts an NVM Subsystem Reset (§3.1.6).
  public static let subsystemResetValue: UInt32 = 0x4E56_4D65

  /// One thing the kernel does for an access, in order.
  public enum Action: Equatable {
    /// A write the device gets as it is.
    case device(offset: UInt64, size: UInt8, value: UInt64)
    /// CC.EN 0 → 1: protect and copy the guest's ring (`NVMeAdminShadowRing(guestBase:
    /// guestASQ, entries: AQA.ASQS + 1)`), releasing any earlier one first. The device's
    /// ASQ (the shadow's address) and CC follow as `device` actions.
    case enable(guestASQ: UInt64, queueAttributes: UInt32)
    /// CC.EN 1 → 0, after CC reached the device: the ring's pages writable again.
    case disable
    /// A write to NSSR, dropped: its dword as the guest's bytes made it.
    case dropped(value: UInt32)
  }

  /// The shadow queue's I/O address: all the device's ASQ ever gets.
  public let shadowIOVA: UInt64
  /// The guest's ASQ as it wrote it.
  public private(set) var guestASQ: UInt64 = 0
  /// Whether the guard is on: the last CC.EN written was 1 (the device saw the shadow's ASQ).
  public private(set) var enabled = false

  public init(shadowIOVA: UInt64) {
    self.shadowIOVA = shadowIOVA
  }

  /// The guard's dwords, by their offsets.
  public static func isGuarded(dword offset: UInt64) -> Bool {
    offset == configuration
      || (offset & 3 == 0 && (subsystemReset...adminSubmissionQueue + 4).contains(offset))
  }

  /// The value a guest read of `size` bytes at `offset` returns: ASQ's bytes are the
  /// guest's, every other byte the device's (`device` reads the device: offset, size).
  public func read(offset: UInt64, size: UInt8, device: (UInt64, UInt8) -> UInt64) -> UInt64 {
    let width = UInt64(min(size, 8))
    let asq = Self.adminSubmissionQueue..<Self.adminSubmissionQueue + 8
    guard width > 0, offset <= UInt64.max - width,
      offset + width > asq.lowerBound, offset < asq.upperBound
    else { return device(offset, size) }
    // Straddling ASQ (no driver does): the rest from the device's dwords around it.
    var value: UInt64 = 0
    var dword: (offset: UInt64, value: UInt64)?
    for index in 0..<width {
      let at = offset + index
      let byte: UInt64
      if asq.contains(at) {
        byte = guestASQ >> ((at - asq.lowerBound) * 8) & 0xFF
      } else {
        let aligned = at & ~3
        if dword?.offset != aligned { dword = (aligned, device(aligned, 4)) }
        byte = dword!.value >> ((at - aligned) * 8) & 0xFF
      }
      value |= byte << (index * 8)
    }
    return value
  }

  /// What a guest write of `size` bytes of `value` at `offset` becomes (`device` reads the
  /// device: offset, size; called before any action of this write is performed, and never
  /// for a dword this write changes before it).
  public mutating func write(
    offset: UInt64, size: UInt8, value: UInt64, device: (UInt64, UInt8) -> UInt64
  ) -> [Action] {
    let width = UInt64(min(size, 8))
    guard width > 0, offset <= UInt64.max - width else { return [] }
    let end = offset + width
    let first = offset & ~3
    guard stride(from: first, to: end, by: 4).contains(where: { Self.isGuarded(dword: $0) })
    else {
      guard size == 8 else { return [.device(offset: offset, size: size, value: value)] }
      return [
        .device(offset: offset, size: 4, value: value & 0xFFFF_FFFF),
        .device(offset: offset + 4, size: 4, value: value >> 32),
      ]
    }
    var actions: [Action] = []
    for dword in stride(from: first, to: end, by: 4) {
      let low = max(offset, dword)
      let high = min(end, dword + 4)
      let bytes = high - low
      let piece = value >> ((low - offset) * 8) & Self.mask(bytes)
      guard Self.isGuarded(dword: dword) else {
        for part in Self.alignedParts(low..<high) {
          actions.append(
            .device(
              offset: part.offset, size: UInt8(part.size),
              value: piece >> ((part.offset - low) * 8) & Self.mask(part.size)))
        }
        continue
      }
      let current = self.current(dword, device)
      let shift = (low - dword) * 8
      let mask = Self.mask(bytes) << shift
      let merged = UInt32(truncatingIfNeeded: current & ~mask | piece << shift)
      store(dword, merged, deviceEnabled: current & 1 != 0, device, into: &actions)
    }
    return actions
  }

  /// The dword a piece is merged into: the device's CC and AQA, the guest's ASQ, zero for
  /// NSSR (dropped whatever it holds).
  private func current(_ dword: UInt64, _ device: (UInt64, UInt8) -> UInt64) -> UInt64 {
    switch dword {
    case Self.adminSubmissionQueue: return guestASQ & 0xFFFF_FFFF
    case Self.adminSubmissionQueue + 4: return guestASQ >> 32
    case Self.subsystemReset: return 0
    default: return device(dword, 4) & 0xFFFF_FFFF
    }
  }

  /// A whole dword of the guard's, as the guest's write made it.
  private mutating func store(
    _ dword: UInt64, _ value: UInt32, deviceEnabled: Bool, _ device: (UInt64, UInt8) -> UInt64,
    into actions: inout [Action]
  ) {
    switch dword {
    case Self.adminSubmissionQueue:
      guestASQ = guestASQ & 0xFFFF_FFFF_0000_0000 | UInt64(value)
    case Self.adminSubmissionQueue + 4:
      guestASQ = guestASQ & 0xFFFF_FFFF | UInt64(value) << 32
    case Self.subsystemReset:
      actions.append(.dropped(value: value))
    case Self.configuration:
      let enabling = value & 1 != 0
      // An edge of the guard's own state, or the device's EN reading 0 under an enabled
      // guard (a controller reset it did not see): the device starts its admin queue again
      // from the ASQ it reads at this enable, so that ASQ is the shadow's.
      if enabling && (!enabled || !deviceEnabled) {
        enabled = true
        let attributes = UInt32(
          truncatingIfNeeded: device(Self.adminQueueAttributes, 4))
        actions.append(.enable(guestASQ: guestASQ, queueAttributes: attributes))
        actions.append(
          .device(offset: Self.adminSubmissionQueue, size: 4, value: shadowIOVA & 0xFFFF_FFFF))
        actions.append(
          .device(offset: Self.adminSubmissionQueue + 4, size: 4, value: shadowIOVA >> 32))
      }
      actions.append(.device(offset: dword, size: 4, value: UInt64(value)))
      if !enabling && enabled {
        enabled = false
        actions.append(.disable)
      }
    default:
      actions.append(.device(offset: dword, size: 4, value: UInt64(value)))
    }
  }

  private static func mask(_ bytes: UInt64) -> UInt64 {
    bytes >= 8 ? UInt64.max : (1 << (bytes * 8)) - 1
  }

  /// `range` (inside one dword) as naturally aligned writes of 4, 2 or 1 bytes.
  static func alignedParts(_ range: Range<UInt64>) -> [(offset: UInt64, size: UInt64)] {
    var parts: [(offset: UInt64, size: UInt64)] = []
    var at = range.lowerBound
    while at < range.upperBound {
      var size: UInt64 = 4
      while size > 1 && (at % size != 0 || at + size > range.upperBound) { size /= 2 }
      parts.append((at, size))
      at += size
    }
    return parts
  }
}
