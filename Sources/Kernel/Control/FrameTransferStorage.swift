import ControlProtocol

/// A transfer's bytes in physically contiguous frames of the node's allocator, not the
/// kernel heap: a guest kernel or initramfs is megabytes. The frames are identity mapped
/// (IdentityMappedMemory), so a completed image is handed to the VM loader in place.
struct FrameTransferStorage: TransferStorage {
  private(set) var address: UInt64
  let size: Int
  private var frames: Int

  init?(size: Int) {
    let frames = max(1, (size + 4095) / 4096)
    guard let address = PhysicalFrames.allocateZeroed(frames: frames) else { return nil }
    self.address = address
    self.size = size
    self.frames = frames
  }

  mutating func write(_ bytes: [UInt8], at offset: Int) {
    let target = IdentityMappedMemory().pointer(to: address + UInt64(offset))
    bytes.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
  }

  func read(at offset: Int, count: Int) -> [UInt8] {
    let source = UnsafeRawBufferPointer(
      start: IdentityMappedMemory().pointer(to: address + UInt64(offset)), count: count)
    return Array(source)
  }

  /// The image's bytes where they lie (valid until `release`).
  var contents: UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: IdentityMappedMemory().pointer(to: address), count: size)
  }

  mutating func release() {
    guard frames > 0 else { return }
    PhysicalFrames.free(address, frames: frames)
    frames = 0
  }
}

/// Images whose transfer completed, by name, until a VM is created from them (or one of
/// the same name replaces them). A disk image leaves the store with `take`: its frames then
/// belong to the VM (`TransferredDisks`).
struct ImageStore {
  private(set) var images: [(name: [UInt8], storage: FrameTransferStorage)] = []

  mutating func keep(_ name: [UInt8], _ storage: FrameTransferStorage) {
    remove(name)
    images.append((name, storage))
  }

  func contents(of name: [UInt8]) -> UnsafeRawBufferPointer? {
    images.first(where: { $0.name == name })?.storage.contents
  }

  /// Removes the image without freeing its frames: the caller owns them from now on.
  mutating func take(_ name: [UInt8]) -> FrameTransferStorage? {
    guard let index = images.firstIndex(where: { $0.name == name }) else { return nil }
    return images.remove(at: index).storage
  }

  mutating func remove(_ name: [UInt8]) {
    guard let index = images.firstIndex(where: { $0.name == name }) else { return }
    images[index].storage.release()
    images.remove(at: index)
  }
}
