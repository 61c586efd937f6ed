import CArch
import NetworkProtocols
import PCI

/// The node's NIC: a modern (virtio 1.x) virtio-net function over PCI (virtio 1.1 §4.1,
/// §5.1). Two split virtqueues, receive (0) and transmit (1), each with a 2 KiB buffer per
/// descriptor from the frame allocator; no offloads, no mergeable buffers, so a received
/// buffer is a 12-byte header and one whole frame. Receive interrupts arrive as MSI-X
/// vector `ManagementNetwork.vector` on the bootstrap processor; transmit buffers are
/// reclaimed when the next frame is sent. Used only by CPU 0.
final class VirtioNetDevice: NetworkInterfaceCard {
  enum Problem: Error {
    case missingStructure
    case barNotMemory
    case cannotMap
    case resetTimedOut
    case notModern
    case featuresRefused
    case queueUnavailable
    case outOfMemory
  }

  static let bufferSize = 2048
  static let queueEntries = 64
  static let receiveQueue: UInt16 = 0
  static let transmitQueue: UInt16 = 1

  let function: PCIFunction
  let model: StaticString = "virtio-net"
  let mac: MACAddress
  let usesInterrupts: Bool
  private let common: UInt64
  private var receive: SplitVirtqueue<IdentityMappedMemory>
  private var transmit: SplitVirtqueue<IdentityMappedMemory>
  private let receiveNotify: UInt64
  private let transmitNotify: UInt64
  private let receiveBuffers: UInt64
  private let transmitBuffers: UInt64
  /// Frames not sent because every transmit descriptor was in flight.
  private(set) var transmitFull: UInt64 = 0

  private init(
    function: PCIFunction, mac: MACAddress, usesInterrupts: Bool, common: UInt64,
    receive: SplitVirtqueue<IdentityMappedMemory>, transmit: SplitVirtqueue<IdentityMappedMemory>,
    receiveNotify: UInt64, transmitNotify: UInt64, receiveBuffers: UInt64, transmitBuffers: UInt64
  ) {
    self.function = function
    self.mac = mac
    self.usesInterrupts = usesInterrupts
    self.common = common
    self.receive = receive
    self.transmit = transmit
    self.receiveNotify = receiveNotify
    self.transmitNotify = transmitNotify
    self.receiveBuffers = receiveBuffers
    self.transmitBuffers = transmitBuffers
  }

  /// Brings the function up (virtio 1.1 §3.1.1): reset, ACKNOWLEDGE, DRIVER, features
  /// (VERSION_1 required), FEATURES_OK confirmed, queues, DRIVER_OK. `apicID` receives
  /// its interrupts, if it has MSI-X.
  static func start(_ function: PCIFunction, apicID: UInt32) -> Result<VirtioNetDevice, Problem> {
    let space = function.space
    let structures = VirtioPCICapability.all(space, capabilities: function.capabilities)
    guard let commonCap = structures.first(where: { $0.kind == .common }),
      let notifyCap = structures.first(where: { $0.kind == .notify }),
      let deviceCap = structures.first(where: { $0.kind == .device })
    else { return .failure(.missingStructure) }
    guard let common = map(commonCap, function), let notifyBase = map(notifyCap, function),
      let deviceConfig = map(deviceCap, function)
    else { return .failure(.cannotMap) }
    // Memory decoding and bus mastering on, legacy INTx off (PCI 3.0 §6.2.2).
    space.write16(
      0x04,
      space.read16(0x04) | PCICommand.memorySpace | PCICommand.busMaster
        | PCICommand.interruptDisable)

    typealias C = VirtioCommonConfiguration
    mmio_write8(common + UInt64(C.deviceStatus), 0)
    var spins = 0
    while mmio_read8(common + UInt64(C.deviceStatus)) != 0 {
      spins += 1
      if spins > 1_000_000 { return .failure(.resetTimedOut) }
      arch_pause()
    }
    setStatus(common, VirtioStatus.acknowledge)
    setStatus(common, VirtioStatus.driver)
    mmio_write32(common + UInt64(C.deviceFeatureSelect), 0)
    var offered = UInt64(mmio_read32(common + UInt64(C.deviceFeature)))
    mmio_write32(common + UInt64(C.deviceFeatureSelect), 1)
    offered |= UInt64(mmio_read32(common + UInt64(C.deviceFeature))) << 32
    guard case .success(let accepted) = VirtioFeature.negotiate(offered: offered) else {
      setStatus(common, VirtioStatus.failed)
      return .failure(.notModern)
    }
    mmio_write32(common + UInt64(C.driverFeatureSelect), 0)
    mmio_write32(common + UInt64(C.driverFeature), UInt32(truncatingIfNeeded: accepted))
    mmio_write32(common + UInt64(C.driverFeatureSelect), 1)
    mmio_write32(common + UInt64(C.driverFeature), UInt32(truncatingIfNeeded: accepted >> 32))
    setStatus(common, VirtioStatus.featuresOK)
    guard mmio_read8(common + UInt64(C.deviceStatus)) & VirtioStatus.featuresOK != 0 else {
      setStatus(common, VirtioStatus.failed)
      return .failure(.featuresRefused)
    }

    let usesInterrupts = enableMSIX(function, apicID: apicID)
    mmio_write16(common + UInt64(C.msixConfig), C.noVector)
    let queueMemory = SplitVirtqueue<IdentityMappedMemory>.layout(size: queueEntries).total
    let queueFrames = (queueMemory + 4095) / 4096
    let bufferFrames = queueEntries * bufferSize / 4096
    guard let receiveArea = PhysicalFrames.allocateZeroed(frames: queueFrames),
      let transmitArea = PhysicalFrames.allocateZeroed(frames: queueFrames),
      let receiveBuffers = PhysicalFrames.allocateZeroed(frames: bufferFrames),
      let transmitBuffers = PhysicalFrames.allocateZeroed(frames: bufferFrames)
    else { return .failure(.outOfMemory) }
    guard
      let receive = setUpQueue(
        common, index: receiveQueue, area: receiveArea,
        vector: usesInterrupts ? 0 : C.noVector),
      let transmit = setUpQueue(
        common, index: transmitQueue, area: transmitArea, vector: C.noVector)
    else {
      setStatus(common, VirtioStatus.failed)
      return .failure(.queueUnavailable)
    }
    transmit.queue.suppressInterrupts()
    // The MAC from the device configuration (§5.1.4) when offered; else a locally
    // administered one (IEEE 802 U/L bit) from the PCI location.
    var mac = MACAddress(0x02, 0x50, 0x45, 0x52, function.address.bus, function.address.device)
    if accepted & VirtioFeature.netMAC != 0 {
      var bytes: [UInt8] = []
      for index in 0..<6 { bytes.append(mmio_read8(deviceConfig + UInt64(index))) }
      mac = MACAddress(bytes, at: 0) ?? mac
    }
    let device = VirtioNetDevice(
      function: function, mac: mac, usesInterrupts: usesInterrupts, common: common,
      receive: receive.queue, transmit: transmit.queue,
      receiveNotify: notifyBase + UInt64(receive.notifyOffset)
        * UInt64(notifyCap.notifyOffsetMultiplier),
      transmitNotify: notifyBase + UInt64(transmit.notifyOffset)
        * UInt64(notifyCap.notifyOffsetMultiplier),
      receiveBuffers: receiveBuffers, transmitBuffers: transmitBuffers)
    device.fillReceiveQueue()
    setStatus(common, VirtioStatus.driverOK)
    device.notify(receiveQueue)
    return .success(device)
  }

  private static func setStatus(_ common: UInt64, _ bit: UInt8) {
    let at = common + UInt64(VirtioCommonConfiguration.deviceStatus)
    mmio_write8(at, mmio_read8(at) | bit)
  }

  /// The structure's address, its BAR mapped in the hypervisor's page tables.
  private static func map(_ capability: VirtioPCICapability, _ function: PCIFunction) -> UInt64? {
    guard capability.bar < function.bars.count,
      let base = function.bars[capability.bar].memoryBase,
      let size = function.bars[capability.bar].memorySize,
      UInt64(capability.offset) + UInt64(capability.length) <= size,
      KernelPageTables.mapDevice(physical: base, length: size)
    else { return nil }
    return base + UInt64(capability.offset)
  }

  /// Table entry 0 sends `ManagementNetwork.vector` to `apicID` (fixed, edge, physical
  /// destination); MSI-X on. False when the function has no usable MSI-X (then polled).
  private static func enableMSIX(_ function: PCIFunction, apicID: UInt32) -> Bool {
    guard let found = function.capabilities.first(where: { $0.id == PCICapability.msiX }),
      let msix = MSIXCapability(function.space, at: found.offset),
      msix.tableBAR < function.bars.count,
      let base = function.bars[msix.tableBAR].memoryBase,
      let size = function.bars[msix.tableBAR].memorySize,
      UInt64(msix.tableOffset) + 16 <= size,
      KernelPageTables.mapDevice(physical: base, length: size),
      let message = HostMSI.message(
        vector: ManagementNetwork.vector, apicID: UInt8(truncatingIfNeeded: apicID),
        requester: function.requester)
    else { return false }
    let entry = base + UInt64(msix.tableOffset)
    // Entry layout (PCI 3.0 §6.8.2.6): address low, address high, data, vector control.
    mmio_write32(entry + 12, 1)  // masked while it is written
    mmio_write32(entry, UInt32(truncatingIfNeeded: message.address))
    mmio_write32(entry + 4, UInt32(truncatingIfNeeded: message.address >> 32))
    mmio_write32(entry + 8, message.data)
    mmio_write32(entry + 12, 0)
    MSIXCapability.enable(function.space, at: found.offset)
    return true
  }

  /// One queue (§4.1.5.1.3): size, MSI-X vector (read back: the device refuses a vector it
  /// cannot use), ring addresses, enable.
  private static func setUpQueue(
    _ common: UInt64, index: UInt16, area: UInt64, vector: UInt16
  ) -> (queue: SplitVirtqueue<IdentityMappedMemory>, notifyOffset: UInt16)? {
    typealias C = VirtioCommonConfiguration
    mmio_write16(common + UInt64(C.queueSelect), index)
    let maximum = Int(mmio_read16(common + UInt64(C.queueSize)))
    guard maximum >= queueEntries else { return nil }
    mmio_write16(common + UInt64(C.queueSize), UInt16(queueEntries))
    mmio_write16(common + UInt64(C.queueMSIXVector), vector)
    guard mmio_read16(common + UInt64(C.queueMSIXVector)) == vector,
      let queue = SplitVirtqueue(size: queueEntries, base: area, memory: IdentityMappedMemory())
    else { return nil }
    mmio_write64_halves(common + UInt64(C.queueDescriptors), queue.descriptors)
    mmio_write64_halves(common + UInt64(C.queueDriver), queue.driverArea)
    mmio_write64_halves(common + UInt64(C.queueDevice), queue.deviceArea)
    let notifyOffset = mmio_read16(common + UInt64(C.queueNotifyOffset))
    mmio_write16(common + UInt64(C.queueEnable), 1)
    return (queue, notifyOffset)
  }

  private func fillReceiveQueue() {
    while let token = receive.nextToken {
      _ = receive.offer(
        physical: receiveBuffers + UInt64(token) * UInt64(Self.bufferSize),
        length: UInt32(Self.bufferSize), deviceWritable: true)
    }
  }

  private func notify(_ queue: UInt16) {
    mmio_write16(queue == Self.receiveQueue ? receiveNotify : transmitNotify, queue)
  }

  /// Hands up to `limit` received frames to `body`, each buffer offered again after; the
  /// device is notified once for all. Returns how many frames there were.
  func receiveFrames(limit: Int, _ body: ([UInt8]) -> Void) -> Int {
    var count = 0
    while count < limit, let used = receive.takeUsed() {
      let buffer = receiveBuffers + UInt64(used.token) * UInt64(Self.bufferSize)
      let length = min(Int(used.length), Self.bufferSize)
      if length > VirtioNetHeader.length {
        let start = UnsafeRawPointer(bitPattern: UInt(buffer))! + VirtioNetHeader.length
        body(Array(UnsafeRawBufferPointer(start: start, count: length - VirtioNetHeader.length)))
      } else {
        body([])  // a header without a frame: counted as truncated by the stack
      }
      count += 1
      fillReceiveQueue()
    }
    if count > 0 && receive.deviceWantsNotification { notify(Self.receiveQueue) }
    return count
  }

  /// Whether the device has used receive buffers not yet taken (for polling).
  var hasReceived: Bool { receive.hasUsed }

  /// Queues one frame; false when it is too long or every transmit buffer is in flight.
  @discardableResult
  func send(_ frame: [UInt8]) -> Bool {
    while transmit.takeUsed() != nil {}
    guard frame.count + VirtioNetHeader.length <= Self.bufferSize, let token = transmit.nextToken
    else {
      transmitFull &+= 1
      return false
    }
    let buffer = transmitBuffers + UInt64(token) * UInt64(Self.bufferSize)
    let pointer = UnsafeMutableRawPointer(bitPattern: UInt(buffer))!
    pointer.initializeMemory(as: UInt8.self, repeating: 0, count: VirtioNetHeader.length)
    frame.withUnsafeBytes {
      guard let source = $0.baseAddress else { return }
      (pointer + VirtioNetHeader.length).copyMemory(from: source, byteCount: $0.count)
    }
    _ = transmit.offer(
      physical: buffer, length: UInt32(frame.count + VirtioNetHeader.length),
      deviceWritable: false)
    if transmit.deviceWantsNotification { notify(Self.transmitQueue) }
    return true
  }
}
