import Synchronization

/// A virtio device on the VM's PCI bus through the virtio 1.x PCI transport ("modern" only,
/// virtio 1.1 §4.1): the function's configuration space with the virtio vendor capabilities
/// and MSI-X, the registers its BARs decode, feature negotiation, the device status and the
/// queueStates' registers. What the device does with requests is its `model`'s.
///
/// Concurrency: guest accesses (`configuration`, `readBAR`, `writeBAR`) come under the VM's
/// device lock, as do the model's calls for most queueStates. A NIC's receive side calls
/// `nextRequest`/`complete`/`signalUsed` for its own receive queue from another CPU under the
/// NIC's lock: each queue's state is a separate object that only its serving side touches,
/// and what both sides share (status, ISR, MSI-X table and mask bits, counters) is atomic.
/// `reset` calls `model.reset()` first so the model stops its other side before the queueStates
/// are cleared.
public final class VirtioPCIFunction: VirtualPCIFunction, VirtioQueueService {
  /// VIRTIO_MSI_NO_VECTOR (§4.1.5.1.2).
  public static let noVector: UInt16 = 0xFFFF

  public var configuration: VirtualPCIConfiguration {
    didSet { configurationWritten() }
  }
  public let model: any VirtioDeviceModel
  public let memory: GuestMemoryMap
  private let sink: any MessageSignaledInterruptSink
  private let interruptLine: InterruptLine?
  /// Offset of the MSI-X capability in configuration space.
  private let msixCapability: Int

  /// Feature bits offered: the model's and the transport's (VirtioFeature.transport).
  public let offeredFeatures: UInt64
  var deviceFeatureSelectValue: UInt32 = 0
  var driverFeatureSelectValue: UInt32 = 0
  public private(set) var driverFeatures: UInt64 = 0
  func setDriverFeatures(_ value: UInt64) { driverFeatures = value }
  var configurationGeneration: UInt8 { generation.load(ordering: .relaxed) }
  var configurationVectorValue: UInt16 = noVector
  var queueSelectValue: UInt16 = 0
  private let status = Atomic<UInt8>(0)
  private let generation = Atomic<UInt8>(0)
  private let interruptStatus = Atomic<UInt8>(0)
  let queueStates: [VirtioPCIQueue]
  let msixVectors: [MSIXVector]
  /// The MSI-X message control bits (enable, function mask), cached from configuration space
  /// so the receive side reads them without touching the configuration value.
  private let msixEnabled = Atomic<Bool>(false)
  private let functionMasked = Atomic<Bool>(false)

  private let notifications = Atomic<Int>(0)
  private let interrupts = Atomic<Int>(0)
  /// Doorbell writes the model was told of (§4.1.5.2).
  public var notificationsReceived: Int { notifications.load(ordering: .relaxed) }
  /// MSI-X messages sent plus INTx pulses.
  public var interruptsSent: Int { interrupts.load(ordering: .relaxed) }
  var pendingInterruptStatus: UInt8 { interruptStatus.load(ordering: .acquiring) }

  func restoreCounters(status: UInt8, generation: UInt8, isr: UInt8) {
    self.status.store(status, ordering: .releasing)
    self.generation.store(generation, ordering: .releasing)
    interruptStatus.store(isr, ordering: .releasing)
  }

  /// The last fault that set DEVICE_NEEDS_RESET, for the VM's report.
  public private(set) var lastFault: VirtqueueFault? = nil

  /// A function for `model`, its BARs declared at address 0 (the VM platform assigns them as
  /// firmware would); MSI-X messages go to `interrupts`, and, when the guest leaves MSI-X
  /// off, queue and configuration interrupts pulse `interruptLine` (pin INTA#) if given.
  public init(
    model: any VirtioDeviceModel, memory: GuestMemoryMap,
    interrupts: any MessageSignaledInterruptSink, interruptLine: InterruptLine? = nil
  ) {
    precondition(model.queueCount >= 1 && model.queueCount < VirtioPCILayout.maximumVectors)
    precondition(model.configurationSize <= 0x1000)
    self.model = model
    self.memory = memory
    self.sink = interrupts
    self.interruptLine = interruptLine
    offeredFeatures = model.deviceFeatures | VirtioFeature.transport
    queueStates = (0..<model.queueCount).map { _ in
      VirtioPCIQueue(maximumSize: model.maximumQueueSize)
    }
    msixVectors = (0...model.queueCount).map { _ in MSIXVector() }
    let (classCode, subclass) = VirtioPCILayout.classCode(deviceType: model.deviceType)
    var configuration = VirtualPCIConfiguration(
      vendorID: VirtioPCILayout.vendorID,
      deviceID: VirtioPCILayout.firstModernDeviceID + model.deviceType, classCode: classCode,
      subclass: subclass, revision: 1, subsystemVendorID: VirtioPCILayout.vendorID,
      subsystemID: VirtioPCILayout.subsystemID, interruptPin: interruptLine == nil ? 0 : 1)
    configuration.declareBAR(
      VirtioPCILayout.msixBAR, VirtualBAR(.memory32, size: VirtioPCILayout.msixBARSize), at: 0)
    configuration.declareBAR(
      VirtioPCILayout.virtioBAR, VirtualBAR(.memory64, size: VirtioPCILayout.virtioBARSize),
      at: 0)
    msixCapability = Self.addCapabilities(
      to: &configuration, queueCount: model.queueCount,
      configurationSize: model.configurationSize)
    self.configuration = configuration
  }

  /// The four virtio_pci_cap structures (§4.1.4) and MSI-X (PCI 3.0 §6.8.2); returns the
  /// MSI-X capability's offset.
  private static func addCapabilities(
    to configuration: inout VirtualPCIConfiguration, queueCount: Int, configurationSize: Int
  ) -> Int {
    func virtio(_ type: VirtioPCICapabilityType, offset: UInt64, length: UInt64, extra: [UInt8])
      -> [UInt8]
    {
      // cap_len, cfg_type, bar, id + 2 padding, offset, length (after cap_vndr and cap_next).
      [UInt8(16 + extra.count), type.rawValue, UInt8(VirtioPCILayout.virtioBAR), 0, 0, 0]
        + littleEndian(UInt32(offset)) + littleEndian(UInt32(length)) + extra
    }
    let vendorSpecific: UInt8 = 0x09
    configuration.addCapability(
      id: vendorSpecific,
      body: virtio(
        .common, offset: VirtioPCILayout.commonOffset, length: VirtioPCILayout.commonLength,
        extra: []))
    configuration.addCapability(
      id: vendorSpecific,
      body: virtio(
        .notify, offset: VirtioPCILayout.notifyOffset,
        length: UInt64(queueCount) * UInt64(VirtioPCILayout.notifyOffMultiplier),
        extra: littleEndian(VirtioPCILayout.notifyOffMultiplier)))
    configuration.addCapability(
      id: vendorSpecific,
      body: virtio(.isr, offset: VirtioPCILayout.isrOffset, length: 1, extra: []))
    if configurationSize > 0 {
      configuration.addCapability(
        id: vendorSpecific,
        body: virtio(
          .device, offset: VirtioPCILayout.deviceOffset, length: UInt64(configurationSize),
          extra: []))
    }
    // Message control: table size N-1 (read-only), function mask (14) and enable (15)
    // writable; table and PBA offsets with the BAR indicator in bits 2:0 (§6.8.2.3-5).
    let tableSize = UInt16(queueCount)  // queueCount + 1 vectors
    let bar = UInt32(VirtioPCILayout.msixBAR)
    return configuration.addCapability(
      id: 0x11,
      body: littleEndian(tableSize) + littleEndian(UInt32(VirtioPCILayout.msixTableOffset) | bar)
        + littleEndian(UInt32(VirtioPCILayout.pendingBitsOffset) | bar),
      writableBody: [0x00, 0xC0])
  }

  private static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<T.bitWidth / 8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
  }

  // MARK: Status

  public var deviceStatus: UInt8 { status.load(ordering: .acquiring) }

  /// The driver may use the device: DRIVER_OK and not DEVICE_NEEDS_RESET.
  var isLive: Bool {
    let value = deviceStatus
    return value & VirtioStatus.driverOK != 0 && value & VirtioStatus.needsReset == 0
  }

  /// Device status written (§2.1, §3.1.1): 0 resets; FEATURES_OK sticks only for an
  /// acceptable feature set; DRIVER_OK after FEATURES_OK activates the model.
  func writeStatus(_ value: UInt8) {
    guard value != 0 else {
      reset()
      return
    }
    let old = deviceStatus
    var new = value | old & VirtioStatus.needsReset
    if new & VirtioStatus.featuresOK != 0 && old & VirtioStatus.featuresOK == 0
      && !featuresAcceptable
    {
      new &= ~VirtioStatus.featuresOK
    }
    status.store(new, ordering: .releasing)
    let activates =
      new & VirtioStatus.driverOK != 0 && old & VirtioStatus.driverOK == 0
      && new & VirtioStatus.featuresOK != 0
      && new & (VirtioStatus.needsReset | VirtioStatus.failed) == 0
    if activates { model.activate(features: driverFeatures, service: self) }
  }

  /// The driver accepted VIRTIO_F_VERSION_1 (a modern device refuses legacy drivers,
  /// §6.1) and nothing that was not offered.
  var featuresAcceptable: Bool {
    driverFeatures & ~offeredFeatures == 0 && driverFeatures & VirtioFeature.version1 != 0
  }

  /// Device reset (§2.1.1, §4.1.4.3.2): the model first, then every register.
  public func reset() {
    model.reset()
    for queue in queueStates { queue.reset() }
    deviceFeatureSelectValue = 0
    driverFeatureSelectValue = 0
    driverFeatures = 0
    configurationVectorValue = Self.noVector
    queueSelectValue = 0
    interruptStatus.store(0, ordering: .releasing)
    status.store(0, ordering: .releasing)
    lastFault = nil
  }

  // MARK: Guest accesses

  public func readBAR(_ index: Int, offset: UInt64, size: UInt8) -> UInt64 {
    switch index {
    case VirtioPCILayout.msixBAR: return readMSIX(offset: offset, size: size)
    case VirtioPCILayout.virtioBAR: return readVirtio(offset: offset, size: size)
    default: return 0
    }
  }

  public func writeBAR(_ index: Int, offset: UInt64, size: UInt8, value: UInt64) -> DeviceEffect {
    switch index {
    case VirtioPCILayout.msixBAR: writeMSIX(offset: offset, size: size, value: value)
    case VirtioPCILayout.virtioBAR: writeVirtio(offset: offset, size: size, value: value)
    default: break
    }
    return .none
  }

  private func readVirtio(offset: UInt64, size: UInt8) -> UInt64 {
    guard size == 1 || size == 2 || size == 4 || size == 8 else { return 0 }
    switch offset {
    case VirtioPCILayout.commonOffset..<VirtioPCILayout.commonOffset + VirtioPCILayout.commonLength:
      return readCommon(offset: offset - VirtioPCILayout.commonOffset, size: size)
    case VirtioPCILayout.isrOffset:
      // Reading ISR status clears it (§4.1.4.5).
      return UInt64(interruptStatus.exchange(0, ordering: .acquiringAndReleasing))
    case VirtioPCILayout.deviceOffset..<VirtioPCILayout.deviceOffset + 0x1000:
      let at = Int(offset - VirtioPCILayout.deviceOffset)
      guard size <= 4, at + Int(size) <= model.configurationSize else { return 0 }
      return UInt64(model.readConfiguration(offset: at, size: Int(size)))
    default: return 0
    }
  }

  private func writeVirtio(offset: UInt64, size: UInt8, value: UInt64) {
    guard size == 1 || size == 2 || size == 4 || size == 8 else { return }
    switch offset {
    case VirtioPCILayout.commonOffset..<VirtioPCILayout.commonOffset + VirtioPCILayout.commonLength:
      writeCommon(offset: offset - VirtioPCILayout.commonOffset, size: size, value: value)
    case VirtioPCILayout.deviceOffset..<VirtioPCILayout.deviceOffset + 0x1000:
      let at = Int(offset - VirtioPCILayout.deviceOffset)
      guard size <= 4, at + Int(size) <= model.configurationSize else { return }
      model.writeConfiguration(
        offset: at, size: Int(size), value: UInt32(truncatingIfNeeded: value))
    case VirtioPCILayout.notifyOffset..<VirtioPCILayout.notifyOffset + 0x1000:
      // Without VIRTIO_F_NOTIFICATION_DATA the driver writes the queue's index (§4.1.5.2).
      let queue = Int(value & 0xFFFF)
      guard isLive, queue < queueStates.count, queueStates[queue].enabled else { return }
      notifications.wrappingAdd(1, ordering: .relaxed)
      model.queueNotified(queue)
    default: break
    }
  }

  // MARK: VirtioQueueService

  public func nextRequest(queue: Int, maximumLength: UInt64) throws(VirtqueueFault)
    -> DescriptorChain?
  {
    guard isLive, queue >= 0, queue < queueStates.count else { return nil }
    let slot = queueStates[queue]
    guard slot.enabled, slot.ring != nil else { return nil }
    if let chain = try slot.ring!.nextChain(memory: memory, maximumLength: maximumLength) {
      return chain
    }
    // Empty: ask for a notification of the next request (avail_event under
    // VIRTIO_F_EVENT_IDX, §2.6.10; without it the driver stops notifying after the first),
    // then look once more: a request made available before the driver could see the new
    // avail_event came without one.
    try slot.ring!.requestNotification(memory: memory)
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    return try slot.ring!.nextChain(memory: memory, maximumLength: maximumLength)
  }

  public func complete(queue: Int, head: UInt16, written: UInt32) throws(VirtqueueFault) {
    guard isLive, queue >= 0, queue < queueStates.count else { return }
    let slot = queueStates[queue]
    guard slot.enabled, slot.ring != nil else { return }
    if try slot.ring!.complete(head: head, written: written, memory: memory) {
      slot.interruptWanted = true
    }
  }

  public func signalUsed(queue: Int) {
    guard queue >= 0, queue < queueStates.count else { return }
    let slot = queueStates[queue]
    guard slot.interruptWanted else { return }
    slot.interruptWanted = false
    interrupt(vector: slot.vector.load(ordering: .acquiring), isrBit: 1)
  }

  public func deviceNeedsReset(_ fault: VirtqueueFault) {
    lastFault = fault
    let old = status.bitwiseOr(VirtioStatus.needsReset, ordering: .acquiringAndReleasing).oldValue
    // Only a driver that set DRIVER_OK is told (§2.1.2); before, the status read shows it.
    if old & VirtioStatus.needsReset == 0 && old & VirtioStatus.driverOK != 0 {
      configurationChanged()
    }
  }

  public func configurationChanged() {
    generation.wrappingAdd(1, ordering: .relaxed)
    interrupt(vector: configurationVectorValue, isrBit: 2)
  }

  /// Asks the driver for another notification, or to stop notifying, on `queue` (a model
  /// polling its queue uses these; §2.6.10).
  public func requestNotification(queue: Int) throws(VirtqueueFault) {
    guard queue >= 0, queue < queueStates.count, let ring = queueStates[queue].ring else { return }
    try ring.requestNotification(memory: memory)
  }

  // MARK: Interrupts

  /// MSI-X `vector` when the guest enabled MSI-X, else the ISR bit and INTx (§4.1.4.5).
  private func interrupt(vector: UInt16, isrBit: UInt8) {
    if msixEnabled.load(ordering: .acquiring) {
      guard vector != Self.noVector else { return }
      send(vector: Int(vector))
    } else {
      interruptStatus.bitwiseOr(isrBit, ordering: .acquiringAndReleasing)
      guard let interruptLine else { return }
      interrupts.wrappingAdd(1, ordering: .relaxed)
      interruptLine.pulse()
    }
  }

  /// Sends `vector`'s message, or leaves it pending while it or the function is masked
  /// (§6.8.2.9); the unmask that races with setting the pending bit is re-checked.
  private func send(vector index: Int) {
    guard index < msixVectors.count else { return }
    let vector = msixVectors[index]
    if functionMasked.load(ordering: .acquiring) || vector.isMasked {
      vector.pending.store(true, ordering: .releasing)
      guard !functionMasked.load(ordering: .acquiring), !vector.isMasked,
        vector.pending.exchange(false, ordering: .acquiringAndReleasing)
      else { return }
    }
    interrupts.wrappingAdd(1, ordering: .relaxed)
    sink.signal(address: vector.address, data: vector.data.load(ordering: .acquiring))
  }

  /// Sends every pending vector no longer masked.
  private func deliverPending() {
    guard msixEnabled.load(ordering: .acquiring), !functionMasked.load(ordering: .acquiring)
    else { return }
    for index in msixVectors.indices where !msixVectors[index].isMasked {
      if msixVectors[index].pending.exchange(false, ordering: .acquiringAndReleasing) {
        send(vector: index)
      }
    }
  }

  /// A configuration write may have changed MSI-X enable or the function mask.
  private func configurationWritten() {
    let control = configuration.read(offset: msixCapability + 2, size: 2)
    msixEnabled.store(control & 0x8000 != 0, ordering: .releasing)
    functionMasked.store(control & 0x4000 != 0, ordering: .releasing)
    deliverPending()
  }

  // MARK: MSI-X table and PBA (BAR 1)

  private func readMSIX(offset: UInt64, size: UInt8) -> UInt64 {
    guard size == 4 || size == 8, offset % UInt64(size) == 0 else { return 0 }
    if offset >= VirtioPCILayout.pendingBitsOffset {
      // One bit per vector; fewer than 64 vectors fit the first quadword.
      guard offset == VirtioPCILayout.pendingBitsOffset else { return 0 }
      var bits: UInt64 = 0
      for index in msixVectors.indices
      where msixVectors[index].pending.load(ordering: .acquiring) {
        bits |= 1 << UInt64(index)
      }
      return size == 8 ? bits : bits & 0xFFFF_FFFF
    }
    let entry = Int(offset / 16)
    guard entry < msixVectors.count else { return 0 }
    let word = Int(offset % 16) / 4
    let low = UInt64(msixVectors[entry].read(word: word))
    return size == 8 ? low | UInt64(msixVectors[entry].read(word: word + 1)) << 32 : low
  }

  private func writeMSIX(offset: UInt64, size: UInt8, value: UInt64) {
    guard size == 4 || size == 8, offset % UInt64(size) == 0,
      offset < VirtioPCILayout.pendingBitsOffset
    else { return }
    let entry = Int(offset / 16)
    guard entry < msixVectors.count else { return }
    let word = Int(offset % 16) / 4
    msixVectors[entry].write(word: word, value: UInt32(truncatingIfNeeded: value))
    if size == 8 {
      msixVectors[entry].write(word: word + 1, value: UInt32(truncatingIfNeeded: value >> 32))
    }
    if word + (size == 8 ? 1 : 0) == 3 { deliverPending() }
  }
}
