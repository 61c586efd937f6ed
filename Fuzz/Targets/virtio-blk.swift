// fuzz-modules: HypervisorCore
// The virtio-blk device model (issue 13) serving a queue whose rings, descriptors, headers
// and data are all the guest's bytes, over a small disk image.
//
// Checks, beyond not trapping: no byte outside guest RAM or outside the image is written
// (guard bytes around both), the image changes only when the device counts bytes written,
// every request taken is given back or the queue is stopped, and a stopped queue serves
// nothing more.
//
// Input: byte 0: queue size exponent (1-256) and read-only flag (bit 7); byte 1:
// notifications to make (1-4); then guest RAM (at most 64 KiB; descriptors 0x0, driver area
// 0x1000, device area 0x2000). The disk is 16 sectors.
import HypervisorCore

final class FuzzQueueService: VirtioQueueService {
  let memory: GuestMemoryMap
  var queue: DeviceVirtqueue
  var taken = 0
  var completed = 0
  var faults = 0

  init(memory: GuestMemoryMap, queue: DeviceVirtqueue) {
    self.memory = memory
    self.queue = queue
  }

  func nextRequest(queue index: Int, maximumLength: UInt64) throws(VirtqueueFault)
    -> DescriptorChain?
  {
    precondition(index == 0, "a queue the device does not have")
    let chain = try queue.nextChain(memory: memory, maximumLength: maximumLength)
    if chain != nil { taken += 1 }
    return chain
  }

  func complete(queue index: Int, head: UInt16, written: UInt32) throws(VirtqueueFault) {
    completed += 1
    _ = try queue.complete(head: head, written: written, memory: memory)
  }

  func requestNotification(queue index: Int) throws(VirtqueueFault) {
    try queue.requestNotification(memory: memory)
  }

  func signalUsed(queue: Int) {}
  func deviceNeedsReset(_ fault: VirtqueueFault) { faults += 1 }
  func configurationChanged() {}
}

let guardSize = 4096
let guardByte: UInt8 = 0xA5

func guarded(_ size: Int) -> UnsafeMutableRawPointer {
  let base = UnsafeMutableRawPointer.allocate(byteCount: size + 2 * guardSize, alignment: 4096)
  base.initializeMemory(as: UInt8.self, repeating: guardByte, count: size + 2 * guardSize)
  return base
}

func guardsIntact(_ base: UnsafeMutableRawPointer, _ size: Int) -> Bool {
  let before = UnsafeRawBufferPointer(start: base, count: guardSize)
  let after = UnsafeRawBufferPointer(start: base + guardSize + size, count: guardSize)
  return !before.contains { $0 != guardByte } && !after.contains { $0 != guardByte }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  guard size >= 2 else { return 0 }
  let ramSize = 0x1_0000
  let diskSize = 16 * 512
  let ramBase = guarded(ramSize)
  let diskBase = guarded(diskSize)
  defer {
    ramBase.deallocate()
    diskBase.deallocate()
  }
  let ram = ramBase + guardSize
  ram.initializeMemory(as: UInt8.self, repeating: 0, count: ramSize)
  ram.copyMemory(from: data + 2, byteCount: min(size - 2, ramSize))
  let diskBytes = diskBase + guardSize
  for index in 0..<diskSize {
    diskBytes.storeBytes(of: UInt8(index / 512), toByteOffset: index, as: UInt8.self)
  }
  var memory = GuestMemoryMap()
  memory.add(
    GuestMemoryRegion(
      guestPhysical: 0, hostAddress: UInt64(UInt(bitPattern: ram)), size: UInt64(ramSize)))
  let queueSize = UInt16(1) << (data[0] % 9)
  let state = VirtqueueState(
    size: queueSize, descriptorTable: 0, driverArea: 0x1000, deviceArea: 0x2000)
  guard let queue = try? DeviceVirtqueue(state, memory: memory) else { return 0 }
  let service = FuzzQueueService(memory: memory, queue: queue)
  let disk = DiskImage(
    name: Array("fuzz".utf8),
    bytes: UnsafeMutableRawBufferPointer(start: diskBytes, count: diskSize))
  let device = VirtioBlockDevice(disk: disk, readOnly: data[0] & 0x80 != 0)
  device.activate(features: device.deviceFeatures, service: service)

  var image = [UInt8](UnsafeRawBufferPointer(start: diskBytes, count: diskSize))
  for _ in 0..<(1 + Int(data[1] % 4)) {
    let written = device.statistics.bytesWritten
    let taken = service.taken
    let stopped = device.needsReset
    device.queueNotified(0)
    let now = [UInt8](UnsafeRawBufferPointer(start: diskBytes, count: diskSize))
    if device.statistics.bytesWritten == written {
      precondition(now == image, "the image changed with no bytes counted as written")
    }
    precondition(!device.readOnly || now == image, "a read-only image changed")
    image = now
    precondition(!stopped || service.taken == taken, "a stopped queue served a request")
    precondition(
      service.completed == service.taken || device.needsReset,
      "a request taken and neither given back nor the queue stopped")
    precondition(
      device.statistics.requests == UInt64(service.completed), "requests miscounted")
  }
  // Once, at the end: a stray write stays.
  precondition(guardsIntact(ramBase, ramSize), "a write outside guest RAM")
  precondition(guardsIntact(diskBase, diskSize), "a write outside the disk image")
  return 0
}
