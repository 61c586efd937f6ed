import CArch
import PCI

/// A physical function's NVMe admin queue pair (NVM Express 1.4 §7.6.1: controller
/// initialization), polled: the node's own few commands at boot, before any VM, to bring
/// the function's secondary controllers online. One 16-entry submission queue and one
/// completion queue, a frame each, owned by the node for as long as it runs (the PF stays
/// enabled: resetting it would take its secondaries offline again, QEMU 7.2's
/// `nvme_ctrl_reset`). The PF is reserved, so its DMA keeps a pass-through IOMMU entry.
struct NVMeAdminQueue {
  static let entries = 16
  let registers: UInt64
  let capabilities: UInt64
  let submission: UInt64
  let completion: UInt64
  private var tail = 0
  private var head = 0
  private var phase = true
  private var nextID: UInt16 = 1

  private init(registers: UInt64, capabilities: UInt64, submission: UInt64, completion: UInt64) {
    self.registers = registers
    self.capabilities = capabilities
    self.submission = submission
    self.completion = completion
  }

  /// Disables the controller (CC.EN 0, wait for CSTS.RDY 0), points AQA/ASQ/ACQ at two fresh
  /// frames and enables it with 4 KiB pages (CC.MPS 0), 64-byte submission and 16-byte
  /// completion entries (§7.6.1 steps 1-5); nil, said on the console, when it never gets
  /// ready within CAP.TO.
  static func start(registers: UInt64) -> NVMeAdminQueue? {
    let capabilities =
      UInt64(mmio_read32(registers + NVMeRegister.capabilities))
      | UInt64(mmio_read32(registers + NVMeRegister.capabilities + 4)) << 32
    let timeout = NVMeRegister.readyTimeoutMilliseconds(capabilities: capabilities)
    let configuration = registers + NVMeRegister.configuration
    mmio_write32(configuration, mmio_read32(configuration) & ~1)
    guard waitStatus(registers, ready: false, milliseconds: timeout) else {
      Log.warning("pci sriov: the NVMe PF did not stop (CSTS.RDY stayed 1)")
      return nil
    }
    guard let submission = PhysicalFrames.allocateZeroed(),
      let completion = PhysicalFrames.allocateZeroed()
    else {
      Log.warning("pci sriov: no memory for the NVMe PF's admin queues")
      return nil
    }
    let size = UInt32(entries - 1)  // AQA: 0's based sizes, ACQS 27:16, ASQS 11:0
    mmio_write32(registers + NVMeRegister.adminQueueAttributes, size << 16 | size)
    mmio_write64_halves(registers + NVMeRegister.adminSubmissionQueue, submission)
    mmio_write64_halves(registers + NVMeRegister.adminCompletionQueue, completion)
    // CC: IOCQES 23:20 = 4 (16 bytes), IOSQES 19:16 = 6 (64 bytes), MPS 0, CSS 0 (NVM), EN.
    mmio_write32(configuration, 4 << 20 | 6 << 16 | 1)
    guard waitStatus(registers, ready: true, milliseconds: timeout) else {
      Log.warning("pci sriov: the NVMe PF did not become ready (CSTS.RDY stayed 0)")
      PhysicalFrames.free(submission)
      PhysicalFrames.free(completion)
      return nil
    }
    return NVMeAdminQueue(
      registers: registers, capabilities: capabilities, submission: submission,
      completion: completion)
  }

  /// Submits one command (its 16 dwords; the identifier is set here) and polls for its
  /// completion for up to `milliseconds` (a second unless said); nil when none came.
  mutating func run(_ command: [UInt32], milliseconds: UInt64 = 1000) -> NVMeCompletion? {
    let id = nextID
    nextID = nextID == 0xFFFF ? 1 : nextID + 1
    let slot = UnsafeMutablePointer<UInt32>(bitPattern: UInt(submission) + UInt(tail * 64))!
    for index in 0..<16 { slot[index] = command[index] }
    slot[0] = slot[0] & 0xFFFF | UInt32(id) << 16
    tail = (tail + 1) % Self.entries
    mmio_write32(
      registers + NVMeRegister.doorbell(queue: 0, completion: false, capabilities: capabilities),
      UInt32(tail))
    let deadline = arch_rdtsc() &+ milliseconds &* LocalAPIC.tscPerMillisecond
    while arch_rdtsc() < deadline {
      let entry = completion + UInt64(head * 16)
      let done = NVMeCompletion(
        dwords: (
          mmio_read32(entry), mmio_read32(entry + 4), mmio_read32(entry + 8),
          mmio_read32(entry + 12)
        ))
      guard done.phase == phase else {
        arch_pause()
        continue
      }
      head = (head + 1) % Self.entries
      if head == 0 { phase.toggle() }
      mmio_write32(
        registers + NVMeRegister.doorbell(queue: 0, completion: true, capabilities: capabilities),
        UInt32(head))
      if done.id == id { return done }
    }
    return nil
  }

  /// Identify into a fresh frame; its first `count` bytes, or nil when the command failed.
  mutating func identify(cns: UInt8, controller: UInt16 = 0, namespace: UInt32 = 0, count: Int)
    -> [UInt8]?
  {
    guard let page = PhysicalFrames.allocateZeroed() else { return nil }
    defer { PhysicalFrames.free(page) }
    guard
      let done = run(
        NVMeAdmin.identify(
          cns: cns, controller: controller, namespace: namespace, id: 0, page: page)),
      done.succeeded
    else { return nil }
    let bytes = UnsafeRawPointer(bitPattern: UInt(page))!
    return (0..<count).map { bytes.load(fromByteOffset: $0, as: UInt8.self) }
  }

  /// Namespace Attachment (attach) of `namespace` to `controller`, its Controller List in a
  /// fresh frame: the completion, or nil when none came or no frame was free.
  mutating func attach(namespace: UInt32, to controller: UInt16) -> NVMeCompletion? {
    attachment(namespace: namespace, controller: controller, detach: false)
  }

  /// Namespace Attachment (detach) of `namespace` from `controller`.
  mutating func detach(namespace: UInt32, from controller: UInt16) -> NVMeCompletion? {
    attachment(namespace: namespace, controller: controller, detach: true)
  }

  private mutating func attachment(namespace: UInt32, controller: UInt16, detach: Bool)
    -> NVMeCompletion?
  {
    guard let list = NVMeNamespaceAttachment.controllerList([controller]),
      let page = PhysicalFrames.allocateZeroed()
    else { return nil }
    defer { PhysicalFrames.free(page) }
    let bytes = UnsafeMutableRawPointer(bitPattern: UInt(page))!
    for index in 0..<list.count {
      bytes.storeBytes(of: list[index], toByteOffset: index, as: UInt8.self)
    }
    return run(
      detach
        ? NVMeNamespaceAttachment.detach(namespace: namespace, id: 0, page: page)
        : NVMeNamespaceAttachment.attach(namespace: namespace, id: 0, page: page))
  }

  private static func waitStatus(_ registers: UInt64, ready: Bool, milliseconds: UInt64) -> Bool {
    let deadline = arch_rdtsc() &+ milliseconds &* LocalAPIC.tscPerMillisecond
    while arch_rdtsc() < deadline {
      let status = mmio_read32(registers + NVMeRegister.status)
      if (status & NVMeRegister.ready != 0) == ready { return true }
      arch_pause()
    }
    return false
  }
}
