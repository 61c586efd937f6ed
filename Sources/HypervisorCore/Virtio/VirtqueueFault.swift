/// Why a guest's virtqueue cannot be served. Every one is the guest's doing (the driver broke
/// a rule of virtio 1.1 §2.6); the device sets DEVICE_NEEDS_RESET or the VM is stopped with
/// the fault in its report. None is ever a reason to touch memory outside the guest's RAM.
public enum VirtqueueFault: Equatable, Error {
  /// The queue size is not a power of two in 1...32768 (§2.6).
  case invalidSize(Int)
  /// A ring area is misaligned (§2.6: descriptors 16, driver area 2, device area 4) or does
  /// not lie wholly inside guest RAM.
  case invalidArea(address: UInt64)
  /// The driver's available index ran more than a queue's worth ahead of the device (§2.6.10:
  /// the ring holds at most `size` heads).
  case indexJumped(from: UInt16, to: UInt16)
  /// A head or NEXT field names no descriptor of the table.
  case descriptorOutOfRange(UInt32)
  /// A chain visits more descriptors than the table holds: it loops (§2.6.5.3.1).
  case descriptorLoop
  /// A buffer is not wholly inside guest RAM.
  case bufferOutsideMemory(address: UInt64, length: UInt32)
  /// A device-readable buffer after a device-writable one (§2.6.4.2).
  case readableAfterWritable
  /// An indirect descriptor inside an indirect table, or one with NEXT set (§2.6.5.3.1).
  case nestedIndirect
  /// An indirect table whose length is zero or not a multiple of 16 (§2.6.5.3.1).
  case invalidIndirectTable(length: UInt32)
  /// The chain's buffers add up to more than the device accepts for one request.
  case chainTooLarge(UInt64)
}
