import CArch
import HypervisorCore
import PCI

/// The node-owned shadow admin submission queue of one NVMe VF while a VM owns it
/// (docs/passthrough.md, "NVMe admin guard"): 256 KiB, room for the largest admin queue
/// (4096 entries of 64 bytes, AQA.ASQS), one contiguous block of frames, mapped read-only
/// into the VM's IOMMU domain at `iova`, an address outside the VM's RAM. The device
/// fetches the VF's admin commands from here; only `NVMeAdminShadow` writes it.
final class NVMeShadowQueue {
  static let frames = 64
  /// Above any VM's RAM and below what a 3-level (39-bit) VT-d domain translates; a VM's
  /// n-th NVMe VF gets the n-th 256 KiB from here.
  static let iovaBase: UInt64 = 0x7F_0000_0000

  let function: PassthroughFunction
  let vmName: [UInt8]
  let host: UInt64
  let iova: UInt64
  /// What the guard did over the VM's life, for the line at release: guest stores into
  /// its admin queue's pages emulated (each one an exit), accesses to the trapped register
  /// page, commands replaced, the first refused opcode, NSSR writes dropped.
  var stores: UInt64 = 0
  var registerAccesses: UInt64 = 0
  var refusals: UInt64 = 0
  var firstRefused: UInt8?
  var enables: UInt64 = 0
  var subsystemResetsDropped: UInt64 = 0

  init(function: PassthroughFunction, vmName: [UInt8], host: UInt64, iova: UInt64) {
    self.function = function
    self.vmName = vmName
    self.host = host
    self.iova = iova
  }

  /// Slot `index`'s 16 dwords in the shadow, dword 0 (opcode and identifier) last, so a
  /// device fetching meanwhile reads an opcode checked with its own dword.
  func store(slot index: Int, _ dwords: [UInt32]) {
    guard index >= 0, index < Self.frames * 64, dwords.count == 16 else { return }
    let slot = UnsafeMutablePointer<UInt32>(bitPattern: UInt(host) + UInt(index) * 64)!
    for word in 1..<16 { slot[word] = dwords[word] }
    mmio_barrier()  // x86 keeps stores in order (TSO); this keeps the compiler from moving them
    slot[0] = dwords[0]
  }

  /// Every slot zero (CDW0 0: Delete I/O SQ of queue 0, which the controller refuses).
  func clear() {
    UnsafeMutableRawPointer(bitPattern: UInt(host))!.initializeMemory(
      as: UInt8.self, repeating: 0, count: Self.frames * 4096)
  }
}

/// The shadow queues of the VFs VMs own, made when a VM's IOMMU domain is (CPU 0, VM
/// build) and freed once the VF was reset after its owner (CPU 0, `PassthroughDevices`).
enum NVMeShadowQueues {
  nonisolated(unsafe) private static var queues: [NVMeShadowQueue] = []
  private static let lock = TicketLock()

  /// A shadow queue for each NVMe VF in `functions`, for the VM `vmName`; nil when frames
  /// ran out (those made are freed again).
  static func make(for functions: [PassthroughFunction], vmName: [UInt8]) -> [NVMeShadowQueue]? {
    var made: [NVMeShadowQueue] = []
    for function in functions {
      let address = PCIAddress(
        bus: function.bus, device: function.device, function: function.function)
      guard let vf = SRIOVDevices.virtualFunction(at: address), vf.isNVMe else { continue }
      guard let host = PhysicalFrames.allocateZeroed(frames: NVMeShadowQueue.frames) else {
        for queue in made { PhysicalFrames.free(queue.host, frames: NVMeShadowQueue.frames) }
        return nil
      }
      made.append(
        NVMeShadowQueue(
          function: function, vmName: vmName, host: host,
          iova: NVMeShadowQueue.iovaBase
            + UInt64(made.count) * UInt64(NVMeShadowQueue.frames) * 4096))
    }
    lock.withLock { queues.append(contentsOf: made) }
    return made
  }

  static func queue(for function: PassthroughFunction) -> NVMeShadowQueue? {
    lock.withLock { queues.first { $0.function == function } }
  }

  /// `function` was reset after its owner and its IOMMU domain is gone: nothing can fetch
  /// from its shadow queue any more. Frees it and says what the guard did.
  static func release(_ function: PassthroughFunction) {
    let found: NVMeShadowQueue? = lock.withLock {
      guard let index = queues.firstIndex(where: { $0.function == function }) else {
        return nil
      }
      return queues.remove(at: index)
    }
    guard let queue = found else { return }
    PhysicalFrames.free(queue.host, frames: NVMeShadowQueue.frames)
    guard Log.begin(.info) else { return }
    Console.write("nvme guard: vm ")
    Console.write(bytes: queue.vmName)
    Console.write(": pci ")
    Console.write(bytes: function.text)
    Console.write(": ")
    Console.write(decimal: queue.stores)
    Console.write(" admin queue stores emulated, ")
    Console.write(decimal: queue.registerAccesses)
    Console.write(" register accesses, ")
    Console.write(decimal: queue.enables)
    Console.write(" enables, ")
    Console.write(decimal: queue.refusals)
    Console.write(" refused slot copies, ")
    Console.write(decimal: queue.subsystemResetsDropped)
    Console.write(" NSSR writes dropped; shadow queue freed")
    Log.end()
  }
}
