import Synchronization

/// The device side of a split virtqueue (virtio 1.1 §2.6) whose rings live in guest RAM: it
/// takes the requests a guest driver made available and gives them back as used. Everything
/// it reads is the guest's to write at any moment, so every index, length and address is
/// checked before use, every access goes through `GuestMemoryMap` (never outside the VM's
/// RAM), and each call does bounded work: one chain of at most `size` descriptors plus one
/// indirect table of at most `maximumIndirect` entries.
///
/// Ring layout (§2.6): descriptor table of `size` × {addr u64, len u32, flags u16, next u16};
/// driver area {flags u16, idx u16, ring[size] u16, used_event u16}; device area {flags u16,
/// idx u16, ring[size] × {id u32, len u32}, avail_event u16}. Little-endian.
public struct DeviceVirtqueue: Equatable {
  /// Descriptor flags (§2.6.5).
  static let next: UInt16 = 1
  static let write: UInt16 = 2
  static let indirect: UInt16 = 4
  /// Driver-area flag: the driver wants no interrupt (§2.6.7); device-area flag: the device
  /// wants no notification (§2.6.10).
  static let noInterrupt: UInt16 = 1
  static let noNotify: UInt16 = 1
  /// Linux sizes indirect tables by the queue's segment limit; 1024 covers every driver and
  /// bounds the walk.
  public static let maximumIndirect = 1024

  public private(set) var state: VirtqueueState

  /// Checks the geometry the driver programmed (queue size, the three areas' addresses) and
  /// that each area lies wholly inside guest RAM.
  public init(_ state: VirtqueueState, memory: GuestMemoryMap) throws(VirtqueueFault) {
    let size = Int(state.size)
    guard size > 0, size <= 32768, size & (size - 1) == 0 else {
      throw .invalidSize(size)
    }
    let areas: [(UInt64, UInt64, UInt64)] = [
      (state.descriptorTable, 16 * UInt64(size), 16),
      (state.driverArea, 6 + 2 * UInt64(size), 2),
      (state.deviceArea, 6 + 8 * UInt64(size), 4),
    ]
    for (address, length, alignment) in areas {
      guard address & (alignment - 1) == 0, memory.pointer(to: address, length: length) != nil
      else { throw .invalidArea(address: address) }
    }
    self.state = state
  }

  var size: UInt16 { state.size }

  /// The next request the driver made available, or nil when there is none. A fault leaves
  /// the queue where it was: the caller stops serving it (DEVICE_NEEDS_RESET) or the VM.
  /// `maximumLength` bounds the bytes one request may span (a device's own limit).
  public mutating func nextChain(
    memory: GuestMemoryMap, maximumLength: UInt64 = 1 << 32
  ) throws(VirtqueueFault) -> DescriptorChain? {
    let available = try load16(state.driverArea + 2, memory)
    let pending = available &- state.lastAvailable
    guard pending != 0 else { return nil }
    guard pending <= size else { throw .indexJumped(from: state.lastAvailable, to: available) }
    // The ring entry and descriptors are read after the index that published them (§2.6.13).
    atomicMemoryFence(ordering: .acquiring)
    let slot = UInt64(state.lastAvailable & (size - 1))
    let head = try load16(state.driverArea + 4 + 2 * slot, memory)
    guard head < size else { throw .descriptorOutOfRange(UInt32(head)) }
    let buffers = try walk(from: head, memory: memory, maximumLength: maximumLength)
    state.lastAvailable &+= 1
    return DescriptorChain(head: head, buffers: buffers)
  }

  /// Gives request `head` back with `written` bytes written into its writable buffers, and
  /// says whether the driver wants an interrupt for it (§2.6.7: the used_event index with
  /// VIRTIO_F_EVENT_IDX, else the driver area's NO_INTERRUPT flag).
  public mutating func complete(
    head: UInt16, written: UInt32, memory: GuestMemoryMap
  ) throws(VirtqueueFault) -> Bool {
    let slot = UInt64(state.usedIndex & (size - 1))
    let element = state.deviceArea + 4 + 8 * slot
    try store32(UInt32(head), at: element, memory)
    try store32(written, at: element + 4, memory)
    // The element before the index that publishes it (§2.6.8.2).
    atomicMemoryFence(ordering: .releasing)
    let previous = state.usedIndex
    state.usedIndex &+= 1
    try store16(state.usedIndex, at: state.deviceArea + 2, memory)
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    if state.eventIndex {
      let usedEvent = try load16(state.driverArea + 4 + 2 * UInt64(size), memory)
      return Self.needsEvent(usedEvent, new: state.usedIndex, old: previous)
    }
    return try load16(state.driverArea, memory) & Self.noInterrupt == 0
  }

  /// Asks the driver to notify (again) once it makes the next request available: with
  /// VIRTIO_F_EVENT_IDX by avail_event, else by clearing NO_NOTIFY (§2.6.10).
  public func requestNotification(memory: GuestMemoryMap) throws(VirtqueueFault) {
    if state.eventIndex {
      try store16(state.lastAvailable, at: state.deviceArea + 4 + 8 * UInt64(size), memory)
    } else {
      try store16(0, at: state.deviceArea, memory)
    }
  }

  /// Asks the driver not to notify while the device polls the queue anyway.
  public func suppressNotifications(memory: GuestMemoryMap) throws(VirtqueueFault) {
    if !state.eventIndex { try store16(Self.noNotify, at: state.deviceArea, memory) }
  }

  /// vring_need_event (§2.6.7.1): does the range (old, new] of used indices pass `event`?
  static func needsEvent(_ event: UInt16, new: UInt16, old: UInt16) -> Bool {
    new &- event &- 1 < new &- old
  }

  // MARK: The chain walk

  private func walk(
    from head: UInt16, memory: GuestMemoryMap, maximumLength: UInt64
  ) throws(VirtqueueFault) -> [GuestBuffer] {
    var buffers: [GuestBuffer] = []
    var table = state.descriptorTable
    var entries = UInt32(size)
    var index = UInt32(head)
    var visited: UInt32 = 0
    var inIndirect = false
    var sawWritable = false
    var total: UInt64 = 0
    while true {
      visited += 1
      guard visited <= entries else { throw .descriptorLoop }
      let descriptor = table + 16 * UInt64(index)
      let address = try load64(descriptor, memory)
      let length = try load32(descriptor + 8, memory)
      let flags = try load16(descriptor + 12, memory)
      let next = try load16(descriptor + 14, memory)
      if flags & Self.indirect != 0 {
        guard !inIndirect, flags & Self.next == 0 else { throw .nestedIndirect }
        guard length != 0, length % 16 == 0, length / 16 <= UInt32(Self.maximumIndirect) else {
          throw .invalidIndirectTable(length: length)
        }
        guard address & 15 == 0, memory.pointer(to: address, length: UInt64(length)) != nil
        else { throw .bufferOutsideMemory(address: address, length: length) }
        table = address
        entries = length / 16
        index = 0
        visited = 0
        inIndirect = true
        continue
      }
      guard memory.pointer(to: address, length: UInt64(length)) != nil else {
        throw .bufferOutsideMemory(address: address, length: length)
      }
      let writable = flags & Self.write != 0
      if writable {
        sawWritable = true
      } else if sawWritable {
        throw .readableAfterWritable
      }
      total += UInt64(length)
      guard total <= maximumLength else { throw .chainTooLarge(total) }
      buffers.append(GuestBuffer(guestPhysical: address, length: length, writable: writable))
      guard flags & Self.next != 0 else { return buffers }
      guard UInt32(next) < entries else { throw .descriptorOutOfRange(UInt32(next)) }
      index = UInt32(next)
    }
  }

  // MARK: Guest memory, little-endian, checked

  private func load16(_ address: UInt64, _ memory: GuestMemoryMap) throws(VirtqueueFault)
    -> UInt16
  {
    guard let pointer = memory.pointer(to: address, length: 2) else {
      throw .invalidArea(address: address)
    }
    return UInt16(littleEndian: pointer.loadUnaligned(as: UInt16.self))
  }

  private func load32(_ address: UInt64, _ memory: GuestMemoryMap) throws(VirtqueueFault)
    -> UInt32
  {
    guard let pointer = memory.pointer(to: address, length: 4) else {
      throw .invalidArea(address: address)
    }
    return UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self))
  }

  private func load64(_ address: UInt64, _ memory: GuestMemoryMap) throws(VirtqueueFault)
    -> UInt64
  {
    guard let pointer = memory.pointer(to: address, length: 8) else {
      throw .invalidArea(address: address)
    }
    return UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
  }

  private func store16(_ value: UInt16, at address: UInt64, _ memory: GuestMemoryMap)
    throws(VirtqueueFault)
  {
    guard let pointer = memory.pointer(to: address, length: 2) else {
      throw .invalidArea(address: address)
    }
    pointer.storeBytes(of: value.littleEndian, as: UInt16.self)
    memory.noteWrite(address, length: 2)
  }

  private func store32(_ value: UInt32, at address: UInt64, _ memory: GuestMemoryMap)
    throws(VirtqueueFault)
  {
    guard let pointer = memory.pointer(to: address, length: 4) else {
      throw .invalidArea(address: address)
    }
    pointer.storeBytes(of: value.littleEndian, as: UInt32.self)
    memory.noteWrite(address, length: 4)
  }
}

/// A virtqueue's whole device-side state as a plain value: what the driver programmed and how
/// far the device got. Saved and restored with its device (docs/vm-state.md): the rings
/// themselves are guest RAM and move with it.
public struct VirtqueueState: Equatable {
  public var size: UInt16
  public var descriptorTable: UInt64
  public var driverArea: UInt64
  public var deviceArea: UInt64
  /// VIRTIO_F_EVENT_IDX was negotiated.
  public var eventIndex: Bool
  /// The next driver-area ring index the device will take.
  public var lastAvailable: UInt16 = 0
  /// The device's used index (the next used-ring slot).
  public var usedIndex: UInt16 = 0

  public init(
    size: UInt16, descriptorTable: UInt64, driverArea: UInt64, deviceArea: UInt64,
    eventIndex: Bool = false
  ) {
    self.size = size
    self.descriptorTable = descriptorTable
    self.driverArea = driverArea
    self.deviceArea = deviceArea
    self.eventIndex = eventIndex
  }
}
