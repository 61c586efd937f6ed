// fuzz-modules: HypervisorCore
// A guest driver's split virtqueue as a virtio device model reads it (issue 13): the guest
// chooses every byte of its rings, descriptors and indirect tables, and may rewrite them.
//
// Checks, beyond not trapping: every buffer handed out lies wholly inside guest RAM, a chain
// never has more than the queue size plus one indirect table of buffers, and each call
// consumes at most one request.
//
// Input: 2 bytes of queue size exponent and used_event, then guest RAM (at most 64 KiB; the
// rings at fixed offsets: descriptors 0x0, driver area 0x1000, device area 0x2000).
import HypervisorCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
  guard size >= 2 else { return 0 }
  let ramSize = 0x1_0000
  let ram = UnsafeMutableRawPointer.allocate(byteCount: ramSize, alignment: 4096)
  defer { ram.deallocate() }
  ram.initializeMemory(as: UInt8.self, repeating: 0, count: ramSize)
  ram.copyMemory(from: data + 2, byteCount: min(size - 2, ramSize))
  var memory = GuestMemoryMap()
  memory.add(
    GuestMemoryRegion(
      guestPhysical: 0, hostAddress: UInt64(UInt(bitPattern: ram)), size: UInt64(ramSize)))
  let queueSize = UInt16(1) << (data[0] % 9)  // 1...256: the rings fit their offsets
  let state = VirtqueueState(
    size: queueSize, descriptorTable: 0, driverArea: 0x1000, deviceArea: 0x2000,
    eventIndex: data[1] & 1 != 0)
  guard var queue = try? DeviceVirtqueue(state, memory: memory) else { return 0 }
  for _ in 0..<Int(queueSize) + 2 {
    let before = queue.state.lastAvailable
    guard let chain = try? queue.nextChain(memory: memory, maximumLength: 1 << 20) else { break }
    precondition(queue.state.lastAvailable == before &+ 1, "a call consumed more than one request")
    precondition(
      chain.buffers.count <= Int(queueSize) + DeviceVirtqueue.maximumIndirect,
      "a chain longer than the table and one indirect table")
    for buffer in chain.buffers {
      precondition(
        buffer.guestPhysical <= UInt64(ramSize)
          && UInt64(buffer.length) <= UInt64(ramSize) - buffer.guestPhysical,
        "a buffer outside guest RAM")
    }
    _ = try? queue.complete(head: chain.head, written: UInt32(chain.writableLength), memory: memory)
  }
  return 0
}
