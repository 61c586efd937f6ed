import XCTest

@testable import HypervisorCore

/// Records every MSI-X message a function sends.
private final class RecordingSink: MessageSignaledInterruptSink {
  var messages: [(address: UInt64, data: UInt32)] = []
  func signal(address: UInt64, data: UInt32) { messages.append((address, data)) }
}

/// Fills with a counting pattern so a test can check the bytes landed.
private final class PatternSource: EntropySource {
  var next: UInt8 = 0xA0
  func fill(_ buffer: UnsafeMutableRawBufferPointer) {
    for index in buffer.indices {
      buffer[index] = next
      next &+= 1
    }
  }
}

/// A guest driver of a virtio PCI function, doing what Linux's virtio_pci_modern does: find
/// the capabilities, reset, ACKNOWLEDGE, DRIVER, negotiate, set up queues and MSI-X vectors,
/// DRIVER_OK; and the split ring's driver side in a fake guest RAM.
private final class FakeVirtioPCIDriver {
  static let ramSize = 0x10_0000
  let ram = UnsafeMutableRawPointer.allocate(byteCount: ramSize, alignment: 4096)
  let memory: GuestMemoryMap
  let sink = RecordingSink()
  let source = PatternSource()
  let model: VirtioEntropyDevice
  let function: VirtioPCIFunction
  var availableIndex: UInt16 = 0
  let queueSize: UInt16 = 8
  static let descriptors: UInt64 = 0x1000
  static let driverArea: UInt64 = 0x2000
  static let deviceArea: UInt64 = 0x3000

  init() {
    let map = TestGuestRAM.map(ram, size: Self.ramSize)
    memory = map
    model = VirtioEntropyDevice(source: source)
    function = VirtioPCIFunction(model: model, memory: map, interrupts: sink)
  }

  deinit { ram.deallocate() }

  // Virtio BAR registers (BAR 4).
  func common<T: FixedWidthInteger>(_ offset: UInt64, _ type: T.Type) -> T {
    T(truncatingIfNeeded: function.readBAR(4, offset: offset, size: UInt8(T.bitWidth / 8)))
  }
  func setCommon<T: FixedWidthInteger>(_ offset: UInt64, _ value: T) {
    _ = function.writeBAR(
      4, offset: offset, size: UInt8(T.bitWidth / 8), value: UInt64(truncatingIfNeeded: value))
  }
  var status: UInt8 { common(0x14, UInt8.self) }
  func setStatus(_ value: UInt8) { setCommon(0x14, value) }
  func notify(_ queue: UInt16) { setCommon(0x3000 + 4 * UInt64(queue), queue) }

  var deviceFeatures: UInt64 {
    setCommon(0x00, UInt32(0))
    let low = UInt64(common(0x04, UInt32.self))
    setCommon(0x00, UInt32(1))
    return UInt64(common(0x04, UInt32.self)) << 32 | low
  }
  func setDriverFeatures(_ features: UInt64) {
    setCommon(0x08, UInt32(0))
    setCommon(0x0C, UInt32(truncatingIfNeeded: features))
    setCommon(0x08, UInt32(1))
    setCommon(0x0C, UInt32(truncatingIfNeeded: features >> 32))
  }

  /// reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (§3.1.1); whether FEATURES_OK stuck.
  func negotiate(_ features: UInt64) -> Bool {
    setStatus(0)
    setStatus(VirtioStatus.acknowledge)
    setStatus(VirtioStatus.acknowledge | VirtioStatus.driver)
    setDriverFeatures(features)
    setStatus(VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK)
    return status & VirtioStatus.featuresOK != 0
  }

  /// MSI-X on, the table's vector `entry` aimed at `data`; the queue-0 and config vectors.
  func enableMSIX(capability: Int) {
    _ = function.configuration.write(offset: capability + 2, size: 2, value: 0x8000)
    for entry in 0..<2 {
      programVector(entry, data: 0x40 + UInt32(entry), masked: false)
    }
  }

  func programVector(_ entry: Int, data: UInt32, masked: Bool) {
    let base = UInt64(16 * entry)
    _ = function.writeBAR(1, offset: base, size: 4, value: 0xFEE0_0000)
    _ = function.writeBAR(1, offset: base + 4, size: 4, value: 0)
    _ = function.writeBAR(1, offset: base + 8, size: 4, value: UInt64(data))
    _ = function.writeBAR(1, offset: base + 12, size: 4, value: masked ? 1 : 0)
  }

  /// Queue 0 at the rings above, vector 1, enabled.
  func setUpQueue(descriptors: UInt64 = descriptors) {
    setCommon(0x16, UInt16(0))
    setCommon(0x18, queueSize)
    setCommon(0x1A, UInt16(1))
    setCommon(0x20, UInt32(truncatingIfNeeded: descriptors))
    setCommon(0x24, UInt32(truncatingIfNeeded: descriptors >> 32))
    setCommon(0x28, Self.driverArea)
    setCommon(0x30, Self.deviceArea)
    setCommon(0x1C, UInt16(1))
  }

  func probe() -> Int {
    XCTAssertTrue(negotiate(VirtioFeature.version1 | VirtioFeature.eventIndex))
    let capability = capabilities().msix!
    enableMSIX(capability: capability)
    setCommon(0x10, UInt16(0))
    XCTAssertEqual(common(0x10, UInt16.self), 0)
    setUpQueue()
    setStatus(
      VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK
        | VirtioStatus.driverOK)
    return capability
  }

  /// Walks the capability list as Linux does: virtio cfg_type → (bar, offset), and MSI-X.
  func capabilities() -> (virtio: [UInt8: (UInt8, UInt32, UInt32)], msix: Int?) {
    var virtio: [UInt8: (UInt8, UInt32, UInt32)] = [:]
    var msix: Int? = nil
    var at = Int(function.configuration.read(offset: 0x34, size: 1))
    while at != 0 {
      let id = function.configuration.read(offset: at, size: 1)
      if id == 0x09 {
        virtio[UInt8(function.configuration.read(offset: at + 3, size: 1))] = (
          UInt8(function.configuration.read(offset: at + 4, size: 1)),
          function.configuration.read(offset: at + 8, size: 4),
          function.configuration.read(offset: at + 12, size: 4)
        )
      } else if id == 0x11 {
        msix = at
      }
      at = Int(function.configuration.read(offset: at + 1, size: 1))
    }
    return (virtio, msix)
  }

  func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
    ram.storeBytes(of: value.littleEndian, toByteOffset: Int(address), as: T.self)
  }
  func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
    T(littleEndian: ram.load(fromByteOffset: Int(address), as: T.self))
  }

  /// One device-writable buffer as request `head`, made available.
  func request(head: UInt16, address: UInt64, length: UInt32) {
    let descriptor = Self.descriptors + 16 * UInt64(head)
    store(address, at: descriptor)
    store(length, at: descriptor + 8)
    store(UInt16(2), at: descriptor + 12)
    store(head, at: Self.driverArea + 4 + 2 * UInt64(availableIndex % queueSize))
    availableIndex &+= 1
    store(availableIndex, at: Self.driverArea + 2)
    // used_event: interrupt me after each one.
    store(availableIndex &- 1, at: Self.driverArea + 4 + 2 * UInt64(queueSize))
  }

  var usedIndex: UInt16 { load(UInt16.self, at: Self.deviceArea + 2) }
}

final class VirtioPCIFunctionTests: XCTestCase {
  func testIdentityCapabilitiesAndBARsAreWhereLinuxLooks() {
    let driver = FakeVirtioPCIDriver()
    let configuration = driver.function.configuration
    XCTAssertEqual(configuration.read(offset: 0, size: 4), 0x1044_1AF4)
    XCTAssertEqual(configuration.read(offset: 0x08, size: 1), 1)
    XCTAssertEqual(configuration.read(offset: 0x0B, size: 1), 0xFF)
    XCTAssertEqual(configuration.read(offset: 0x2C, size: 2), 0x1AF4)
    XCTAssertEqual(configuration.bars[1], VirtualBAR(.memory32, size: 0x1000))
    XCTAssertEqual(configuration.bars[4], VirtualBAR(.memory64, size: 0x4000))
    let (virtio, msix) = driver.capabilities()
    XCTAssertEqual(virtio[1]?.0, 4)
    XCTAssertEqual(virtio[1]?.1, 0)
    XCTAssertEqual(virtio[2]?.1, 0x3000)
    XCTAssertEqual(virtio[3]?.1, 0x1000)
    XCTAssertNil(virtio[4], "virtio-rng has no device configuration")
    let capability = try! XCTUnwrap(msix)
    // Table size N-1 = 1 (queue + config), table and PBA in BAR 1.
    XCTAssertEqual(configuration.read(offset: capability + 2, size: 2), 1)
    XCTAssertEqual(configuration.read(offset: capability + 4, size: 4), 0x0000_0001)
    XCTAssertEqual(configuration.read(offset: capability + 8, size: 4), 0x0000_0801)
    XCTAssertEqual(driver.common(0x12, UInt16.self), 1, "num_queues")
    XCTAssertEqual(driver.common(0x18, UInt16.self), 64, "queue_size is the maximum")
  }

  func testLinuxProbeThenARequestIsFilledUsedAndInterrupted() {
    let driver = FakeVirtioPCIDriver()
    XCTAssertEqual(
      driver.deviceFeatures,
      VirtioFeature.version1 | VirtioFeature.eventIndex | VirtioFeature.indirectDescriptors)
    _ = driver.probe()
    XCTAssertEqual(driver.status & VirtioStatus.driverOK, VirtioStatus.driverOK)
    XCTAssertEqual(driver.common(0x18, UInt16.self), 8, "the driver lowered the size")
    XCTAssertEqual(driver.common(0x1C, UInt16.self), 1)
    XCTAssertEqual(driver.common(0x20, UInt64.self), FakeVirtioPCIDriver.descriptors)

    driver.request(head: 2, address: 0x8000, length: 16)
    driver.notify(0)
    XCTAssertEqual(driver.usedIndex, 1)
    XCTAssertEqual(driver.load(UInt32.self, at: FakeVirtioPCIDriver.deviceArea + 4), 2)
    XCTAssertEqual(driver.load(UInt32.self, at: FakeVirtioPCIDriver.deviceArea + 8), 16)
    XCTAssertEqual(driver.load(UInt8.self, at: 0x8000), 0xA0)
    XCTAssertEqual(driver.load(UInt8.self, at: 0x800F), 0xAF)
    XCTAssertEqual(driver.sink.messages.count, 1)
    XCTAssertEqual(driver.sink.messages.first?.address, 0xFEE0_0000)
    XCTAssertEqual(driver.sink.messages.first?.data, 0x41, "queue 0 uses vector 1")
    XCTAssertEqual(driver.function.notificationsReceived, 1)
    XCTAssertEqual(driver.function.interruptsSent, 1)
    XCTAssertEqual(driver.model.bytesProvided, 16)
  }

  /// With VIRTIO_F_EVENT_IDX the driver notifies only when avail_event says so: after
  /// draining, the device must publish the index it waits for, or Linux's second request
  /// (virtio-rng's refill) comes with no notification and waits for ever.
  func testADrainedQueuePublishesAvailEventForTheNextRequest() {
    let driver = FakeVirtioPCIDriver()
    _ = driver.probe()
    let availEvent = FakeVirtioPCIDriver.deviceArea + 4 + 8 * UInt64(driver.queueSize)
    for round in 1...3 {
      driver.request(head: 0, address: 0x8000, length: 8)
      driver.notify(0)
      XCTAssertEqual(driver.usedIndex, UInt16(round))
      XCTAssertEqual(driver.load(UInt16.self, at: availEvent), UInt16(round))
    }
  }

  func testAQueueWithItsRingOutsideRAMNeedsAReset() {
    let driver = FakeVirtioPCIDriver()
    XCTAssertTrue(driver.negotiate(VirtioFeature.version1))
    driver.enableMSIX(capability: driver.capabilities().msix!)
    driver.setCommon(0x10, UInt16(0))
    driver.setUpQueue(descriptors: 0x4000_0000)
    XCTAssertEqual(driver.status & VirtioStatus.needsReset, VirtioStatus.needsReset)
    XCTAssertEqual(driver.common(0x1C, UInt16.self), 0, "the queue stays disabled")
    XCTAssertEqual(driver.function.lastFault, .invalidArea(address: 0x4000_0000))
    // DRIVER_OK after that does not activate the model: a notify is not served.
    driver.setStatus(driver.status | VirtioStatus.driverOK)
    driver.notify(0)
    XCTAssertEqual(driver.function.notificationsReceived, 0)
    driver.setStatus(0)
    XCTAssertEqual(driver.status, 0, "reset clears DEVICE_NEEDS_RESET")
  }

  func testAFaultAfterDriverOKSendsTheConfigurationInterrupt() {
    let driver = FakeVirtioPCIDriver()
    _ = driver.probe()
    // avail idx jumps by more than the queue size: the chain walk faults.
    driver.store(UInt16(100), at: FakeVirtioPCIDriver.driverArea + 2)
    driver.notify(0)
    XCTAssertEqual(driver.status & VirtioStatus.needsReset, VirtioStatus.needsReset)
    XCTAssertEqual(driver.sink.messages.map(\.data), [0x40], "config vector 0")
  }

  func testFeaturesOKIsRefusedForUnofferedOrLegacyFeatures() {
    let driver = FakeVirtioPCIDriver()
    XCTAssertFalse(driver.negotiate(VirtioFeature.version1 | 1 << 5))
    XCTAssertFalse(driver.negotiate(VirtioFeature.eventIndex), "VERSION_1 is required")
    XCTAssertTrue(driver.negotiate(VirtioFeature.version1))
    XCTAssertEqual(driver.function.driverFeatures, VirtioFeature.version1)
    // Features are fixed once FEATURES_OK stuck.
    driver.setDriverFeatures(VirtioFeature.version1 | VirtioFeature.eventIndex)
    XCTAssertEqual(driver.function.driverFeatures, VirtioFeature.version1)
  }

  func testQueueSelectOutOfRangeReadsZeroAndIgnoresWrites() {
    let driver = FakeVirtioPCIDriver()
    driver.setCommon(0x16, UInt16(5))
    XCTAssertEqual(driver.common(0x18, UInt16.self), 0)
    driver.setCommon(0x18, UInt16(4))
    driver.setCommon(0x20, UInt64(0x1000))
    driver.setCommon(0x1C, UInt16(1))
    XCTAssertEqual(driver.common(0x18, UInt16.self), 0)
    XCTAssertEqual(driver.common(0x20, UInt64.self), 0)
    XCTAssertEqual(driver.common(0x1C, UInt16.self), 0)
    XCTAssertEqual(driver.common(0x1A, UInt16.self), 0xFFFF)
    XCTAssertEqual(driver.status & VirtioStatus.needsReset, 0)
  }

  func testAVectorBeyondTheTableReadsBackNoVector() {
    let driver = FakeVirtioPCIDriver()
    driver.setCommon(0x10, UInt16(7))
    XCTAssertEqual(driver.common(0x10, UInt16.self), 0xFFFF)
    driver.setCommon(0x1A, UInt16(1))
    XCTAssertEqual(driver.common(0x1A, UInt16.self), 1)
  }

  func testAMaskedVectorIsPendingAndDeliveredOnUnmask() {
    let driver = FakeVirtioPCIDriver()
    _ = driver.probe()
    driver.programVector(1, data: 0x51, masked: true)
    driver.request(head: 0, address: 0x8000, length: 4)
    driver.notify(0)
    XCTAssertEqual(driver.usedIndex, 1)
    XCTAssertTrue(driver.sink.messages.isEmpty)
    XCTAssertEqual(driver.function.readBAR(1, offset: 0x800, size: 8), 0b10, "PBA bit 1")
    _ = driver.function.writeBAR(1, offset: 12 + 16, size: 4, value: 0)
    XCTAssertEqual(driver.sink.messages.map(\.data), [0x51])
    XCTAssertEqual(driver.function.readBAR(1, offset: 0x800, size: 8), 0)
  }

  func testTheFunctionMaskHoldsMessagesUntilCleared() {
    let driver = FakeVirtioPCIDriver()
    let capability = driver.probe()
    _ = driver.function.configuration.write(offset: capability + 2, size: 2, value: 0xC000)
    driver.request(head: 0, address: 0x8000, length: 4)
    driver.notify(0)
    XCTAssertTrue(driver.sink.messages.isEmpty)
    _ = driver.function.configuration.write(offset: capability + 2, size: 2, value: 0x8000)
    XCTAssertEqual(driver.sink.messages.map(\.data), [0x41])
    XCTAssertEqual(driver.function.configuration.read(offset: capability + 2, size: 2), 0x8001)
  }

  func testANotifyBeforeDriverOKIsIgnored() {
    let driver = FakeVirtioPCIDriver()
    XCTAssertTrue(driver.negotiate(VirtioFeature.version1))
    driver.setUpQueue()
    driver.request(head: 0, address: 0x8000, length: 4)
    driver.notify(0)
    XCTAssertEqual(driver.usedIndex, 0)
    XCTAssertEqual(driver.function.notificationsReceived, 0)
  }

  func testResetClearsQueuesAndStopsTheModel() {
    let driver = FakeVirtioPCIDriver()
    _ = driver.probe()
    driver.setStatus(0)
    XCTAssertEqual(driver.status, 0)
    driver.setCommon(0x16, UInt16(0))
    XCTAssertEqual(driver.common(0x1C, UInt16.self), 0)
    XCTAssertEqual(driver.common(0x18, UInt16.self), 64)
    XCTAssertEqual(driver.common(0x20, UInt64.self), 0)
    XCTAssertEqual(driver.common(0x1A, UInt16.self), 0xFFFF)
    driver.request(head: 0, address: 0x8000, length: 4)
    driver.notify(0)
    XCTAssertEqual(driver.usedIndex, 0)
    XCTAssertEqual(driver.model.requestsServed, 0)
  }

  func testWithoutMSIXTheISRIsSetAndClearedByItsRead() {
    let driver = FakeVirtioPCIDriver()
    XCTAssertTrue(driver.negotiate(VirtioFeature.version1))
    driver.setUpQueue()
    driver.setStatus(driver.status | VirtioStatus.driverOK)
    driver.request(head: 0, address: 0x8000, length: 4)
    driver.notify(0)
    XCTAssertEqual(driver.usedIndex, 1)
    XCTAssertTrue(driver.sink.messages.isEmpty)
    XCTAssertEqual(driver.function.readBAR(4, offset: 0x1000, size: 1), 1)
    XCTAssertEqual(driver.function.readBAR(4, offset: 0x1000, size: 1), 0)
  }
}

final class VirtioPCIFunctionStateTests: XCTestCase {
  func testASavedFunctionRestoredIntoAFreshOneServesTheSameQueue() {
    let driver = FakeVirtioPCIDriver()
    _ = driver.probe()
    driver.request(head: 0, address: 0x8000, length: 4)
    driver.notify(0)
    let saved = driver.function.save()
    XCTAssertEqual(saved.queues[0].usedIndex, 1)
    XCTAssertEqual(saved.queues[0].vector, 1)
    XCTAssertEqual(saved.vectors[1].data, 0x41)

    // A second function over the same RAM (as after migration) continues where it was.
    let sink = RecordingSink()
    let model = VirtioEntropyDevice(source: PatternSource())
    let restored = VirtioPCIFunction(model: model, memory: driver.memory, interrupts: sink)
    restored.restore(saved)
    XCTAssertEqual(restored.save(), saved)
    driver.request(head: 1, address: 0x9000, length: 4)
    _ = restored.writeBAR(4, offset: 0x3000, size: 2, value: 0)
    XCTAssertEqual(driver.usedIndex, 2)
    XCTAssertEqual(model.requestsServed, 1)
    XCTAssertEqual(sink.messages.map(\.data), [0x41])
  }
}

final class VirtioPCIFunctionOnTheBusTests: XCTestCase {
  /// What the platform does: attach, assign BAR 4 as firmware would, enable memory decoding
  /// and MSI-X through ECAM; then the guest's MMIO reaches the common configuration.
  func testTheBusRoutesConfigurationAndBARAccessesToTheFunction() {
    let driver = FakeVirtioPCIDriver()
    let bus = VirtualPCIBus()
    bus.attach(driver.function, device: 3)
    let slot = UInt64(3) << 15
    _ = bus.writeECAM(offset: slot | 0x20, size: 4, value: 0xE000_0000)  // BAR 4 low
    _ = bus.writeECAM(offset: slot | 0x24, size: 4, value: 0x1)  // BAR 4 high
    _ = bus.writeECAM(offset: slot | 0x04, size: 2, value: 0x6)  // memory + bus master
    XCTAssertEqual(driver.function.configuration.address(ofBAR: 4), 0x1_E000_0000)
    XCTAssertEqual(bus.readMemory(address: 0x1_E000_0012, size: 2), 1, "num_queues")

    let capability = UInt64(driver.capabilities().msix!)
    _ = bus.writeECAM(offset: slot | (capability + 2), size: 2, value: 0x8000)
    XCTAssertEqual(bus.readECAM(offset: slot | (capability + 2), size: 2), 0x8001)
    // MSI-X on: a config interrupt now goes to the (masked) vector's pending bit, not ISR.
    driver.setCommon(0x10, UInt16(0))
    driver.function.configurationChanged()
    XCTAssertEqual(driver.function.readBAR(1, offset: 0x800, size: 4), 1)
    XCTAssertEqual(driver.function.readBAR(4, offset: 0x1000, size: 1), 0)
  }
}
