import XCTest

@testable import HypervisorCore

/// Host memory with guard bytes on each side, to catch a write outside what it hands out.
final class GuardedBuffer {
  static let guardSize = 4096
  static let guardByte: UInt8 = 0xA5
  let base: UnsafeMutableRawPointer
  let size: Int

  init(size: Int, fill: UInt8 = 0) {
    self.size = size
    base = UnsafeMutableRawPointer.allocate(byteCount: size + 2 * Self.guardSize, alignment: 4096)
    base.initializeMemory(as: UInt8.self, repeating: Self.guardByte, count: Self.guardSize)
    bytes.baseAddress!.initializeMemory(as: UInt8.self, repeating: fill, count: size)
    (base + Self.guardSize + size).initializeMemory(
      as: UInt8.self, repeating: Self.guardByte, count: Self.guardSize)
  }

  deinit { base.deallocate() }

  var bytes: UnsafeMutableRawBufferPointer {
    UnsafeMutableRawBufferPointer(start: base + Self.guardSize, count: size)
  }

  /// Neither guard was written.
  var guardsIntact: Bool {
    let before = UnsafeRawBufferPointer(start: base, count: Self.guardSize)
    let after = UnsafeRawBufferPointer(start: base + Self.guardSize + size, count: Self.guardSize)
    return before.allSatisfy { $0 == Self.guardByte } && after.allSatisfy { $0 == Self.guardByte }
  }

  var contents: [UInt8] { Array(bytes) }
}

/// What a transport gives the device, built on the real `DeviceVirtqueue` over test RAM: it
/// records completions, interrupts and faults.
final class FakeQueueService: VirtioQueueService {
  let memory: GuestMemoryMap
  var queue: DeviceVirtqueue
  var completions: [(head: UInt16, written: UInt32)] = []
  var signals = 0
  var faults: [VirtqueueFault] = []
  var requestedLengths: [UInt64] = []
  var notificationRequests = 0
  /// Runs once, as the driver making a request available just as the device asks for the
  /// next notification.
  var onRequestNotification: (() -> Void)?

  init(memory: GuestMemoryMap, queue: DeviceVirtqueue) {
    self.memory = memory
    self.queue = queue
  }

  func nextRequest(queue index: Int, maximumLength: UInt64) throws(VirtqueueFault)
    -> DescriptorChain?
  {
    requestedLengths.append(maximumLength)
    return try queue.nextChain(memory: memory, maximumLength: maximumLength)
  }

  func complete(queue index: Int, head: UInt16, written: UInt32) throws(VirtqueueFault) {
    completions.append((head, written))
    _ = try queue.complete(head: head, written: written, memory: memory)
  }

  func requestNotification(queue index: Int) throws(VirtqueueFault) {
    notificationRequests += 1
    try queue.requestNotification(memory: memory)
    let hook = onRequestNotification
    onRequestNotification = nil
    hook?()
  }

  func signalUsed(queue: Int) { signals += 1 }
  func deviceNeedsReset(_ fault: VirtqueueFault) { faults.append(fault) }
  func configurationChanged() {}
}

/// A guest's virtio-blk driver in miniature: guest RAM (guarded), a split queue at fixed
/// addresses, and requests laid out as virtio 1.1 §5.2.6 says, split across buffers where a
/// test asks.
final class BlockTestDriver {
  static let ramSize = 0x10_0000
  static let descriptors: UInt64 = 0x1000
  static let driverArea: UInt64 = 0x2000
  static let deviceArea: UInt64 = 0x3000
  /// Where requests' headers, data and status bytes go.
  static let headerAddress: UInt64 = 0x8000
  static let dataAddress: UInt64 = 0x10000
  static let statusAddress: UInt64 = 0xF000

  let ram = GuardedBuffer(size: ramSize)
  let diskBuffer: GuardedBuffer
  let disk: DiskImage
  let device: VirtioBlockDevice
  let service: FakeQueueService
  let size: UInt16
  var availableIndex: UInt16 = 0

  init(
    diskSize: Int = 64 * 512, name: String = "disk0", readOnly: Bool = false, size: UInt16 = 16,
    eventIndex: Bool = false
  ) {
    self.size = size
    diskBuffer = GuardedBuffer(size: diskSize)
    for index in 0..<diskSize {
      diskBuffer.bytes[index] = UInt8(truncatingIfNeeded: index / 512 + 1)
    }
    disk = DiskImage(name: Array(name.utf8), bytes: diskBuffer.bytes)
    device = VirtioBlockDevice(disk: disk, readOnly: readOnly)
    let map = TestGuestRAM.map(ram.bytes.baseAddress!, size: Self.ramSize)
    let state = VirtqueueState(
      size: size, descriptorTable: Self.descriptors, driverArea: Self.driverArea,
      deviceArea: Self.deviceArea, eventIndex: eventIndex)
    service = FakeQueueService(memory: map, queue: try! DeviceVirtqueue(state, memory: map))
    device.activate(features: device.deviceFeatures, service: service)
  }

  func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
    ram.bytes.storeBytes(of: value.littleEndian, toByteOffset: Int(address), as: T.self)
  }

  func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
    T(littleEndian: ram.bytes.loadUnaligned(fromByteOffset: Int(address), as: T.self))
  }

  func bytes(at address: UInt64, count: Int) -> [UInt8] {
    Array(ram.bytes[Int(address)..<Int(address) + count])
  }

  func write(_ bytes: [UInt8], at address: UInt64) {
    for (index, byte) in bytes.enumerated() { ram.bytes[Int(address) + index] = byte }
  }

  func descriptor(_ index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
    let base = Self.descriptors + 16 * UInt64(index)
    store(address, at: base)
    store(length, at: base + 8)
    store(flags, at: base + 12)
    store(next, at: base + 14)
  }

  /// Chains `buffers` (address, length, writable) from descriptor 0 and makes it available.
  func post(_ buffers: [(UInt64, UInt32, Bool)]) {
    for (index, buffer) in buffers.enumerated() {
      let last = index == buffers.count - 1
      descriptor(
        UInt16(index), address: buffer.0, length: buffer.1,
        flags: (last ? 0 : 1) | (buffer.2 ? 2 : 0), next: UInt16(index + 1))
    }
    store(UInt16(0), at: Self.driverArea + 4 + 2 * UInt64(availableIndex % size))
    availableIndex &+= 1
    store(availableIndex, at: Self.driverArea + 2)
  }

  func header(type: UInt32, sector: UInt64, at address: UInt64 = headerAddress) {
    store(type, at: address)
    store(UInt32(0), at: address + 4)
    store(sector, at: address + 8)
  }

  /// Makes one request: the header, `outData` bytes of readable data (at dataAddress),
  /// `inData` bytes of writable data (at dataAddress), the status; the header split in two
  /// buffers and the data in `pieces` when asked. Returns the status byte and used length.
  @discardableResult
  func request(
    type: UInt32, sector: UInt64, outData: [UInt8] = [], inData: Int = 0,
    splitHeader: Bool = false, pieces: Int = 1
  ) -> (status: UInt8, written: UInt32) {
    header(type: type, sector: sector)
    store(UInt8(0xEE), at: Self.statusAddress)
    var buffers: [(UInt64, UInt32, Bool)] =
      splitHeader
      ? [(Self.headerAddress, 5, false), (Self.headerAddress + 5, 11, false)]
      : [(Self.headerAddress, 16, false)]
    func data(_ length: Int, writable: Bool) {
      guard length > 0 else { return }
      let piece = (length + pieces - 1) / pieces
      var offset = 0
      while offset < length {
        let this = min(piece, length - offset)
        // A gap between pieces: they are separate buffers, not one run.
        buffers.append((Self.dataAddress + UInt64(offset) * 2, UInt32(this), writable))
        offset += this
      }
    }
    if !outData.isEmpty {
      let piece = (outData.count + pieces - 1) / pieces
      var offset = 0
      while offset < outData.count {
        let this = min(piece, outData.count - offset)
        write(Array(outData[offset..<offset + this]), at: Self.dataAddress + UInt64(offset) * 2)
        offset += this
      }
      data(outData.count, writable: false)
    }
    data(inData, writable: true)
    buffers.append((Self.statusAddress, 1, true))
    let before = service.completions.count
    post(buffers)
    device.queueNotified(0)
    let written = service.completions.count > before ? service.completions.last!.written : 0
    return (load(UInt8.self, at: Self.statusAddress), written)
  }

  /// The `length` bytes of an IN request's data as `request` placed them (`pieces` apart).
  func readData(_ length: Int, pieces: Int = 1) -> [UInt8] {
    let piece = (length + pieces - 1) / pieces
    var result: [UInt8] = []
    var offset = 0
    while offset < length {
      let this = min(piece, length - offset)
      result += bytes(at: Self.dataAddress + UInt64(offset) * 2, count: this)
      offset += this
    }
    return result
  }
}
