/// The few NVMe admin commands the node sends a physical function to make its SR-IOV
/// secondary controllers usable (NVM Express 1.4 §5.15 Identify, §5.22 Virtualization
/// Management), and the data they return. Encoding and parsing only: the kernel's polled
/// admin queue (Kernel/PCI/NVMeAdminQueue.swift) moves them.
public enum NVMeAdmin {
  public static let identify: UInt8 = 0x06
  public static let virtualizationManagement: UInt8 = 0x1C

  /// Identify CNS values (§5.15.1): 0x14 Primary Controller Capabilities, 0x15 Secondary
  /// Controller List (from the CNTID in CDW10 up).
  public static let primaryControllerCapabilities: UInt8 = 0x14
  public static let secondaryControllerList: UInt8 = 0x15

  /// Virtualization Management actions (§5.22, figure 359) and resource types.
  public enum Action: UInt8, Sendable {
    case secondaryOffline = 0x7
    case secondaryAssign = 0x8
    case secondaryOnline = 0x9
  }

  public enum Resource: UInt8, Sendable {
    case queues = 0  // VQ: flexible submission/completion queue pairs
    case interrupts = 1  // VI: flexible interrupt (MSI-X vector) resources
  }

  /// A 64-byte submission queue entry (§4.2): CDW0 opcode 7:0 and command identifier
  /// 31:16, the namespace in dword 1, PRP entry 1 in dwords 6-7, CDW10-11.
  public static func command(
    opcode: UInt8, id: UInt16, namespace: UInt32 = 0, prp1: UInt64 = 0, cdw10: UInt32 = 0,
    cdw11: UInt32 = 0
  ) -> [UInt32] {
    var dwords = [UInt32](repeating: 0, count: 16)
    dwords[0] = UInt32(opcode) | UInt32(id) << 16
    dwords[1] = namespace
    dwords[6] = UInt32(truncatingIfNeeded: prp1)
    dwords[7] = UInt32(truncatingIfNeeded: prp1 >> 32)
    dwords[10] = cdw10
    dwords[11] = cdw11
    return dwords
  }

  /// Identify into the 4 KiB page at `page` (§5.15: CDW10 CNS 7:0, CNTID 31:16; the NSID
  /// where the CNS names one).
  public static func identify(
    cns: UInt8, controller: UInt16 = 0, namespace: UInt32 = 0, id: UInt16, page: UInt64
  ) -> [UInt32] {
    command(
      opcode: identify, id: id, namespace: namespace, prp1: page,
      cdw10: UInt32(cns) | UInt32(controller) << 16)
  }

  /// Virtualization Management (§5.22: CDW10 ACT 3:0, RT 10:8, CNTLID 31:16; CDW11 NR
  /// 15:0).
  public static func virtualization(
    _ action: Action, resource: Resource = .queues, controller: UInt16, count: UInt16 = 0,
    id: UInt16
  ) -> [UInt32] {
    command(
      opcode: virtualizationManagement, id: id,
      cdw10: UInt32(action.rawValue) | UInt32(resource.rawValue) << 8 | UInt32(controller) << 16,
      cdw11: UInt32(count))
  }
}

/// A 16-byte completion queue entry (§4.6): DW0 command specific, DW2 SQ head 15:0, DW3
/// command identifier 15:0, phase tag bit 16, status 31:17 (SC 7:0, SCT 10:8 of it).
public struct NVMeCompletion: Equatable, Sendable {
  public var result: UInt32
  public var submissionHead: UInt16
  public var id: UInt16
  public var phase: Bool
  public var status: UInt16

  public init(dwords: (UInt32, UInt32, UInt32, UInt32)) {
    result = dwords.0
    submissionHead = UInt16(truncatingIfNeeded: dwords.2)
    id = UInt16(truncatingIfNeeded: dwords.3)
    phase = dwords.3 & (1 << 16) != 0
    status = UInt16(truncatingIfNeeded: dwords.3 >> 17)
  }

  public var succeeded: Bool { status & 0x7FF == 0 }
}

/// Identify CNS 0x14 (§5.15.2.x, figure 252): the flexible resources the primary controller
/// can hand to its secondaries.
public struct NVMePrimaryControllerCapabilities: Equatable, Sendable {
  public var controllerID: UInt16
  /// VQFRT, VQFRSM: flexible queue resources in total, at most per secondary.
  public var flexibleQueues: UInt32
  public var maxQueuesPerSecondary: UInt16
  /// VIFRT, VIFRSM: the same for interrupt resources.
  public var flexibleInterrupts: UInt32
  public var maxInterruptsPerSecondary: UInt16

  /// Nil when fewer than the structure's 80 meaningful bytes are given.
  public init?(_ bytes: [UInt8]) {
    guard bytes.count >= 80 else { return nil }
    controllerID = le16(bytes, 0)
    flexibleQueues = le32(bytes, 32)
    maxQueuesPerSecondary = le16(bytes, 44)
    flexibleInterrupts = le32(bytes, 64)
    maxInterruptsPerSecondary = le16(bytes, 76)
  }

  /// What each of `count` secondaries gets, the same for each: an equal share of the
  /// flexible resources, at most the per-secondary maximum. A secondary controller goes
  /// online only with at least 2 VQ (its admin queue and one I/O queue pair) and 1 VI
  /// (§8.5.2.1; QEMU 7.2's `nvme_virt_set_state` refuses it otherwise): nil below that.
  public func share(among count: Int) -> (queues: UInt16, interrupts: UInt16)? {
    guard count >= 1 else { return nil }
    let queues = min(UInt32(maxQueuesPerSecondary), flexibleQueues / UInt32(count))
    let interrupts = min(UInt32(maxInterruptsPerSecondary), flexibleInterrupts / UInt32(count))
    guard queues >= 2, interrupts >= 1 else { return nil }
    return (UInt16(queues), UInt16(interrupts))
  }
}

/// One entry of the Secondary Controller List (Identify CNS 0x15, figures 253-254).
public struct NVMeSecondaryController: Equatable, Sendable {
  public var id: UInt16
  public var primaryID: UInt16
  public var online: Bool
  /// The VF number (1-based) the secondary controller is the controller of.
  public var virtualFunction: UInt16
  public var queues: UInt16
  public var interrupts: UInt16

  /// The list's entries: byte 0 the count (at most 127), 32-byte entries from byte 32. A
  /// count beyond what the bytes hold is cut to them.
  public static func list(_ bytes: [UInt8]) -> [NVMeSecondaryController] {
    guard let count = bytes.first else { return [] }
    var result: [NVMeSecondaryController] = []
    for index in 0..<min(Int(count), 127) {
      let at = 32 + 32 * index
      guard at + 32 <= bytes.count else { break }
      result.append(
        NVMeSecondaryController(
          id: le16(bytes, at), primaryID: le16(bytes, at + 2), online: bytes[at + 4] & 1 != 0,
          virtualFunction: le16(bytes, at + 8), queues: le16(bytes, at + 10),
          interrupts: le16(bytes, at + 12)))
    }
    return result
  }
}

/// Controller registers (§3.1) the admin queue needs.
public enum NVMeRegister {
  public static let capabilities: UInt64 = 0x00
  public static let version: UInt64 = 0x08
  public static let configuration: UInt64 = 0x14
  public static let status: UInt64 = 0x1C
  public static let adminQueueAttributes: UInt64 = 0x24
  public static let adminSubmissionQueue: UInt64 = 0x28
  public static let adminCompletionQueue: UInt64 = 0x30
  public static let doorbells: UInt64 = 0x1000

  /// CSTS bits: RDY (0), CFS (1, controller fatal status: what QEMU's VF reports while its
  /// secondary controller is offline).
  public static let ready: UInt32 = 1 << 0
  public static let fatal: UInt32 = 1 << 1

  /// The doorbell of submission queue `queue` (tail) or its completion queue (head):
  /// 0x1000 + (2y [+1]) × (4 << CAP.DSTRD).
  public static func doorbell(queue: Int, completion: Bool, capabilities: UInt64) -> UInt64 {
    let stride = UInt64(4) << ((capabilities >> 32) & 0xF)
    return doorbells + UInt64(2 * queue + (completion ? 1 : 0)) * stride
  }

  /// CAP.TO (31:24): the worst-case time to ready, in 500 ms units.
  public static func readyTimeoutMilliseconds(capabilities: UInt64) -> UInt64 {
    max(1, (capabilities >> 24) & 0xFF) * 500
  }
}

private func le16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
  UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
}

private func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
  UInt32(le16(bytes, at)) | UInt32(le16(bytes, at + 2)) << 16
}
