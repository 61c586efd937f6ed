/// What a VF's owner may send through its own admin queue, and how one slot of a node-owned
/// shadow admin submission queue is made from the guest's slot (docs/passthrough.md,
/// "NVMe admin guard"). QEMU 7.2's VF controllers accept Namespace Management and
/// Namespace Attachment naming any controller of the subsystem, so a guest could take the
/// other VF's namespace; the shadow queue the device fetches from holds only commands on
/// this allow-list, anything else replaced by a command the device refuses with an error
/// completion that carries the guest's command identifier.
///
/// The decision is by opcode alone (CDW0 7:0), never by another field: the kernel copies a
/// slot whole after every guest store to it, and a device that fetches a slot while it is
/// being rewritten sees one 32-bit CDW0 (the opcode and identifier together), so any mix of
/// two slots it could read carries an opcode that was checked with its own dword.
public enum NVMeAdminGuard {
  /// Admin opcodes (NVM Express 1.4 figure 139, 2.0 Base figure 28) a VF's owner may send:
  /// its queues, Identify, features, logs, Abort, events, Keep Alive and Doorbell Buffer
  /// Config. What Linux's nvme driver sends at probe and in use is among them (Identify,
  /// Set/Get Features, Get Log Page, Create/Delete I/O CQ/SQ, Async Event Request, Doorbell
  /// Buffer Config; Abort on a timeout). Data they move goes through the VF's IOMMU domain.
  public static let allowed: [UInt8] = [
    0x00,  // Delete I/O Submission Queue
    0x01,  // Create I/O Submission Queue
    0x02,  // Get Log Page
    0x04,  // Delete I/O Completion Queue
    0x05,  // Create I/O Completion Queue
    0x06,  // Identify (any CNS and NSID: it only reads descriptions)
    0x08,  // Abort
    0x09,  // Set Features (the controller's own; NSID-scoped ones reach its own namespaces)
    0x0A,  // Get Features
    0x0C,  // Asynchronous Event Request
    0x18,  // Keep Alive
    0x7C,  // Doorbell Buffer Config
  ]

  /// Refused, among others: Namespace Management 0Dh, Firmware Commit 10h and Image
  /// Download 11h, Device Self-test 14h, Namespace Attachment 15h, Directive Send/Receive
  /// 19h/1Ah, Virtualization Management 1Ch, NVMe-MI 1Dh/1Eh, Capacity Management 20h,
  /// Lockdown 24h, Format NVM 80h, Security Send/Receive 81h/82h, Sanitize 84h, Get LBA
  /// Status 86h and every vendor-specific opcode (C0h-FFh).
  public static func allows(opcode: UInt8) -> Bool { allowed.contains(opcode) }

  /// The opcode a refused command becomes: 03h is reserved in the admin command set (1.4
  /// figure 139, 2.0 figure 28), so a controller completes it with Invalid Command Opcode
  /// (SCT 0, SC 01h; QEMU 7.2 `nvme_admin_cmd` answers 4001h, DNR set).
  public static let refusedOpcode: UInt8 = 0x03

  /// Invalid Command Opcode, as the status field of a completion holds it (SC 7:0).
  public static let invalidOpcodeStatus: UInt16 = 0x001

  /// The shadow's 16 dwords for the guest's slot `guest` (16 dwords, CDW0 first), and the
  /// opcode it refused, if it did: an allowed command is copied as it is; any other becomes
  /// `refusedOpcode` with the guest's identifier (CDW0 31:16) and every other dword zero
  /// (no PRP, no namespace, no fused or SGL bits: nothing for the device to act on).
  public static func shadowSlot(_ guest: [UInt32]) -> (dwords: [UInt32], refused: UInt8?) {
    var slot = [UInt32](repeating: 0, count: 16)
    for index in 0..<min(16, guest.count) { slot[index] = guest[index] }
    let opcode = UInt8(truncatingIfNeeded: slot[0])
    guard !allows(opcode: opcode) else { return (slot, nil) }
    var refused = [UInt32](repeating: 0, count: 16)
    refused[0] = slot[0] & 0xFFFF_0000 | UInt32(refusedOpcode)
    return (refused, opcode)
  }
}

/// One guest admin submission queue and its shadow: which slots a guest store touches
/// (those the kernel must copy again after emulating it), and the slots' shadow contents.
/// 64-byte entries (the admin queue's are fixed, NVM Express 1.4 §4.2), 2 to 4096 of them
/// (AQA.ASQS is 0's based, 12 bits, §3.1.8).
public struct NVMeAdminShadowRing: Equatable {
  public static let entrySize: UInt64 = 64
  /// Where the guest's ring starts (guest-physical, ASQ as the guest wrote it) and its size.
  public let guestBase: UInt64
  public let entries: Int
  /// Commands replaced so far, and the first refused opcode (for the once-per-VM line).
  public private(set) var refusals: UInt64 = 0
  public private(set) var firstRefused: UInt8?
  /// Slots copied so far (each after a guest store that touched it).
  public private(set) var copies: UInt64 = 0

  /// Nil for a ring the controller would refuse: fewer than 2 or more than 4096 entries, or
  /// a base that is not 4 KiB aligned (ASQ 11:0 are reserved, §3.1.10).
  public init?(guestBase: UInt64, entries: Int) {
    guard entries >= 2, entries <= 4096, guestBase & 0xFFF == 0,
      guestBase <= UInt64.max - UInt64(entries) * Self.entrySize
    else { return nil }
    self.guestBase = guestBase
    self.entries = entries
  }

  /// The ring's bytes in guest-physical space.
  public var guestRange: Range<UInt64> { guestBase..<guestBase + UInt64(entries) * Self.entrySize }

  /// The 4 KiB guest pages the ring covers (each write-protected while the guard is on).
  public var guestPages: [UInt64] {
    stride(from: guestBase, to: guestRange.upperBound, by: 4096).map { $0 }
  }

  /// The slots a store of `length` bytes at guest-physical `address` overlaps (empty when
  /// it misses the ring: the rest of a protected page).
  public func slots(touching address: UInt64, length: UInt64) -> Range<Int> {
    guard length > 0, address < guestRange.upperBound,
      address <= UInt64.max - length, address + length > guestBase
    else { return 0..<0 }
    let first = (max(address, guestBase) - guestBase) / Self.entrySize
    let last = (min(address + length, guestRange.upperBound) - 1 - guestBase) / Self.entrySize
    return Int(first)..<Int(last) + 1
  }

  /// The shadow's dwords for slot `index` from the guest's current 16 dwords of it, counted.
  public mutating func copy(slot index: Int, guest: [UInt32]) -> [UInt32] {
    precondition(index >= 0 && index < entries)
    let made = NVMeAdminGuard.shadowSlot(guest)
    copies &+= 1
    if let refused = made.refused {
      refusals &+= 1
      if firstRefused == nil { firstRefused = refused }
    }
    return made.dwords
  }
}
