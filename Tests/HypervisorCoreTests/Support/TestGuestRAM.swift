import HypervisorCore

/// Guest RAM for the device tests: host memory mapped at guest-physical 0, where their
/// drivers lay out virtqueues, descriptors and buffers. One place for the setup the
/// virtqueue, virtio-PCI, virtio-blk and virtio-net tests all need.
enum TestGuestRAM {
  /// Zeroes `size` bytes at `ram` and maps them as guest-physical 0..<size.
  static func map(_ ram: UnsafeMutableRawPointer, size: Int) -> GuestMemoryMap {
    ram.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    var map = GuestMemoryMap()
    map.add(
      GuestMemoryRegion(
        guestPhysical: 0, hostAddress: UInt64(UInt(bitPattern: ram)), size: UInt64(size)))
    return map
  }
}
