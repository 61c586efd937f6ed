import Memory
import Synchronization

/// A split virtqueue (virtio 1.1 §2.6) in driver memory: the descriptor table (16 bytes
/// each), the driver area ("available" ring: flags, idx, ring[N], used_event) and the device
/// area ("used" ring: flags, idx, ring[N] of {id, len}, avail_event). One descriptor per
/// buffer (no chaining, no indirect descriptors); the buffer's descriptor index is its
/// token. `Memory` reaches the rings by physical address.
public struct SplitVirtqueue<Memory: PhysicalMemoryAccess> {
  public let size: Int
  public let descriptors: UInt64
  public let driverArea: UInt64
  public let deviceArea: UInt64
  let memory: Memory
  private var freeDescriptors: [UInt16]
  private var nextAvailable: UInt16 = 0
  private var lastUsed: UInt16 = 0

  /// Descriptor flags (§2.6.5).
  static var writeFlag: UInt16 { 2 }

  /// Bytes the three areas need for `size` entries, each at its alignment (§2.6: 16, 2, 4).
  public static func layout(size: Int) -> (driverOffset: Int, deviceOffset: Int, total: Int) {
    let descriptorBytes = 16 * size
    let driverBytes = 6 + 2 * size
    let driverOffset = descriptorBytes
    let deviceOffset = (driverOffset + driverBytes + 3) & ~3
    return (driverOffset, deviceOffset, deviceOffset + 6 + 8 * size)
  }

  /// `base`: zeroed memory of `layout(size:).total` bytes, 16-byte aligned. `size` must be a
  /// power of two no larger than 32768 (§2.6).
  public init?(size: Int, base: UInt64, memory: Memory) {
    guard size > 0, size <= 32768, size & (size - 1) == 0, base & 15 == 0 else { return nil }
    let layout = Self.layout(size: size)
    self.size = size
    self.memory = memory
    descriptors = base
    driverArea = base + UInt64(layout.driverOffset)
    deviceArea = base + UInt64(layout.deviceOffset)
    freeDescriptors = (0..<UInt16(size)).reversed().map { $0 }
  }

  public var freeCount: Int { freeDescriptors.count }

  /// The token the next `offer` will return, so the caller can fill the buffer it keeps
  /// for that descriptor first; nil when every descriptor is in use.
  public var nextToken: UInt16? { freeDescriptors.last }

  /// Offers the buffer at `physical` (`length` bytes) to the device, device-writable for
  /// receive buffers. Returns its token, or nil when every descriptor is in use. The ring
  /// index is published after the entry, with a fence between (§2.6.13).
  public mutating func offer(physical: UInt64, length: UInt32, deviceWritable: Bool) -> UInt16? {
    guard let index = freeDescriptors.popLast() else { return nil }
    let descriptor = memory.pointer(to: descriptors + 16 * UInt64(index))
    descriptor.storeBytes(of: physical.littleEndian, as: UInt64.self)
    descriptor.storeBytes(of: length.littleEndian, toByteOffset: 8, as: UInt32.self)
    descriptor.storeBytes(
      of: (deviceWritable ? Self.writeFlag : 0).littleEndian, toByteOffset: 12, as: UInt16.self)
    descriptor.storeBytes(of: UInt16(0), toByteOffset: 14, as: UInt16.self)
    let ring = memory.pointer(to: driverArea)
    let slot = 4 + 2 * Int(nextAvailable & UInt16(size - 1))
    ring.storeBytes(of: index.littleEndian, toByteOffset: slot, as: UInt16.self)
    nextAvailable &+= 1
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    ring.storeBytes(of: nextAvailable.littleEndian, toByteOffset: 2, as: UInt16.self)
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    return index
  }

  /// The next buffer the device has finished with: its token and the bytes it wrote. Its
  /// descriptor is free again. A device-reported id outside the table is ignored (counted
  /// by the caller as nil with `hasUsed` still true would loop, so it is consumed).
  public mutating func takeUsed() -> (token: UInt16, length: UInt32)? {
    let ring = memory.pointer(to: deviceArea)
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    let published = UInt16(littleEndian: ring.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
    guard published != lastUsed else { return nil }
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    let slot = 4 + 8 * Int(lastUsed & UInt16(size - 1))
    let id = UInt32(littleEndian: ring.loadUnaligned(fromByteOffset: slot, as: UInt32.self))
    let length = UInt32(
      littleEndian: ring.loadUnaligned(fromByteOffset: slot + 4, as: UInt32.self))
    lastUsed &+= 1
    guard id < UInt32(size), !freeDescriptors.contains(UInt16(id)) else {
      return takeUsed()  // a device bug: skip the entry rather than free a descriptor twice
    }
    freeDescriptors.append(UInt16(id))
    return (UInt16(id), length)
  }

  /// Whether the device has used a buffer `takeUsed` has not returned yet.
  public var hasUsed: Bool {
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    let ring = memory.pointer(to: deviceArea)
    return UInt16(littleEndian: ring.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) != lastUsed
  }

  /// The device asked not to be notified (used ring flags bit 0, VIRTQ_USED_F_NO_NOTIFY,
  /// §2.6.10); without VIRTIO_F_EVENT_IDX this is the only suppression.
  public var deviceWantsNotification: Bool {
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    let flags = UInt16(
      littleEndian: memory.pointer(to: deviceArea).loadUnaligned(as: UInt16.self))
    return flags & 1 == 0
  }

  /// Asks the device not to interrupt when it uses buffers (available ring flags bit 0,
  /// VIRTQ_AVAIL_F_NO_INTERRUPT): for the transmit queue, reclaimed by polling.
  public func suppressInterrupts() {
    memory.pointer(to: driverArea).storeBytes(of: UInt16(1).littleEndian, as: UInt16.self)
  }
}
