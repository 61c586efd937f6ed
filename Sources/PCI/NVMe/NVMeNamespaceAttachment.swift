/// Giving each SR-IOV secondary controller a namespace of its own, through the physical
/// function's admin queue (NVM Express 1.4 §5.19 Namespace Attachment, §5.15 Identify CNS
/// 10h and 12h, §4.8 Namespace List, §4.9 Controller List). Encoding, parsing and the rule;
/// the kernel's polled admin queue (Kernel/PCI/NVMeAdminQueue.swift) moves the commands.
///
/// The rule (docs/passthrough.md, "SR-IOV"): the namespaces of the subsystem that no
/// controller has attached, in ascending NSID order, go one each to the secondary
/// controllers that see no namespace yet, in VF order. So a node started with one detached
/// private namespace per VF gives VF n the n-th of them, and no VM sees another's storage.
public enum NVMeNamespaceAttachment {
  public static let opcode: UInt8 = 0x15

  /// Identify CNS 10h: the allocated NSIDs of the subsystem above the command's NSID,
  /// attached or not; 12h: the controllers (from CNTID up) the command's NSID is attached to.
  public static let allocatedNamespaceList: UInt8 = 0x10
  public static let attachedControllerList: UInt8 = 0x12

  /// Namespace Attachment status codes (SCT 1, figure 288).
  public static let alreadyAttached: UInt16 = 0x118
  public static let namespaceIsPrivate: UInt16 = 0x119
  public static let controllerListInvalid: UInt16 = 0x11C

  /// A Controller List holds at most 2047 identifiers after its count (§4.9).
  public static let maxControllers = 2047

  /// Namespace Attachment, SEL 0h (controller attach, CDW10 3:0) of `namespace` to the
  /// controllers in the Controller List at `page` (PRP entry 1, 4 KiB).
  public static func attach(namespace: UInt32, id: UInt16, page: UInt64) -> [UInt32] {
    NVMeAdmin.command(opcode: opcode, id: id, namespace: namespace, prp1: page, cdw10: 0)
  }

  /// Namespace Attachment, SEL 1h (controller detach) of `namespace` from the controllers in
  /// the Controller List at `page`.
  public static func detach(namespace: UInt32, id: UInt16, page: UInt64) -> [UInt32] {
    NVMeAdmin.command(opcode: opcode, id: id, namespace: namespace, prp1: page, cdw10: 1)
  }

  /// The 4 KiB Controller List (§4.9): the count (16 bits), then the identifiers, the rest
  /// zero. Nil for no controller or more than a list holds.
  public static func controllerList(_ controllers: [UInt16]) -> [UInt8]? {
    guard !controllers.isEmpty, controllers.count <= maxControllers else { return nil }
    var bytes = [UInt8](repeating: 0, count: 4096)
    for (index, value) in ([UInt16(controllers.count)] + controllers).enumerated() {
      bytes[2 * index] = UInt8(truncatingIfNeeded: value)
      bytes[2 * index + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }
    return bytes
  }

  /// A Controller List's identifiers (Identify CNS 12h data): a count beyond what the bytes
  /// hold, or beyond 2047, is cut.
  public static func controllers(_ bytes: [UInt8]) -> [UInt16] {
    guard bytes.count >= 2 else { return [] }
    let count = min(Int(UInt16(bytes[0]) | UInt16(bytes[1]) << 8), maxControllers)
    var result: [UInt16] = []
    for index in 0..<count {
      let at = 2 + 2 * index
      guard at + 2 <= bytes.count else { break }
      result.append(UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)
    }
    return result
  }

  /// A Namespace List's NSIDs (Identify CNS 10h data, §4.8): up to 1024, ascending, ended by
  /// the first zero. An entry that is not above the one before it, or is a reserved or
  /// broadcast value (FFFFFFFEh, FFFFFFFFh), ends the list: a device that breaks the order
  /// gets nothing attached past that point.
  public static func namespaces(_ bytes: [UInt8]) -> [UInt32] {
    var result: [UInt32] = []
    var at = 0
    while at + 4 <= bytes.count && result.count < 1024 {
      let id =
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
        | UInt32(bytes[at + 3]) << 24
      let previous = result.last ?? 0
      guard id != 0 && id < 0xFFFF_FFFE && id > previous else { break }
      result.append(id)
      at += 4
    }
    return result
  }

  /// One namespace of the subsystem and the controllers it is attached to.
  public struct Namespace: Equatable, Sendable {
    public var id: UInt32
    public var attached: [UInt16]
    public init(id: UInt32, attached: [UInt16]) {
      self.id = id
      self.attached = attached
    }
  }

  /// One attachment the rule asks for.
  public struct Step: Equatable, Sendable {
    public var namespace: UInt32
    public var controller: UInt16
    public init(namespace: UInt32, controller: UInt16) {
      self.namespace = namespace
      self.controller = controller
    }
  }

  /// What the node does when a VF is released (its owner ended): the controller's
  /// namespaces other than `own` are detached from it (a guest attached them through its
  /// own admin queue), and `own` goes back to it if no controller has it. A namespace the
  /// controller lost to another controller stays there until that one is released.
  public struct Audit: Equatable, Sendable {
    public var foreign: [UInt32]
    public var ownMissing: Bool
    public var ownElsewhere: [UInt16]
  }

  public static func audit(controller: UInt16, own: UInt32, namespaces: [Namespace]) -> Audit {
    var foreign: [UInt32] = []
    for namespace in namespaces
    where namespace.id != own && namespace.attached.contains(controller)
      && !foreign.contains(namespace.id)
    {
      foreign.append(namespace.id)
    }
    let attached = namespaces.first(where: { $0.id == own })?.attached ?? []
    return Audit(
      foreign: foreign, ownMissing: !attached.contains(controller),
      ownElsewhere: attached.filter { $0 != controller })
  }

  /// The rule above: unattached namespaces by ascending NSID, to the `secondaries` (in the
  /// order given: VF order) that no namespace is attached to. Each namespace and each
  /// controller appears at most once; what is left over on either side is not attached.
  public static func plan(namespaces: [Namespace], secondaries: [UInt16]) -> [Step] {
    var free: [UInt32] = []
    for namespace in namespaces where namespace.attached.isEmpty && !free.contains(namespace.id) {
      free.append(namespace.id)
    }
    free.sort()
    var steps: [Step] = []
    var seen: [UInt16] = []
    for controller in secondaries {
      guard !seen.contains(controller) else { continue }
      seen.append(controller)
      guard !namespaces.contains(where: { $0.attached.contains(controller) }) else { continue }
      guard steps.count < free.count else { break }
      steps.append(Step(namespace: free[steps.count], controller: controller))
    }
    return steps
  }
}
