import XCTest

@testable import HypervisorCore

/// A transport stand-in: two split virtqueues in fake guest RAM, served by `DeviceVirtqueue`
/// as the virtio-pci transport serves them, and a driver side that posts buffers the way
/// Linux's virtio_net does (a header and a frame per transmit chain, one receive buffer per
/// frame).
final class FakeNetTransport: VirtioQueueService {
  static let ramSize = 0x40_0000
  static let queueSize: UInt16 = 16
  /// Queue q's rings at 0x1000 + q * 0x4000; buffers from 0x10_0000 on.
  let ram = UnsafeMutableRawPointer.allocate(byteCount: ramSize, alignment: 4096)
  let memory: GuestMemoryMap
  var queues: [DeviceVirtqueue] = []
  var available: [UInt16] = [0, 0]
  var nextBuffer: UInt64 = 0x10_0000
  var interrupts: [Int] = [0, 0]
  var faults: [VirtqueueFault] = []

  init() {
    let map = TestGuestRAM.map(ram, size: Self.ramSize)
    memory = map
    for queue in 0..<2 {
      queues.append(try! DeviceVirtqueue(state(queue), memory: map))
    }
  }

  deinit { ram.deallocate() }

  func state(_ queue: Int) -> VirtqueueState {
    let base = 0x1000 + UInt64(queue) * 0x4000
    return VirtqueueState(
      size: Self.queueSize, descriptorTable: base, driverArea: base + 0x1000,
      deviceArea: base + 0x2000)
  }

  func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
    ram.storeBytes(of: value.littleEndian, toByteOffset: Int(address), as: T.self)
  }

  func load<T: FixedWidthInteger>(_ type: T.Type, at address: UInt64) -> T {
    T(littleEndian: ram.load(fromByteOffset: Int(address), as: T.self))
  }

  func bytes(at address: UInt64, count: Int) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: ram + Int(address), count: count))
  }

  /// Posts a chain of `buffers` (address, length, writable) on `queue` starting at
  /// descriptor `first`.
  func post(queue: Int, first: UInt16, _ buffers: [(UInt64, UInt32, Bool)]) {
    let table = state(queue).descriptorTable
    for (index, buffer) in buffers.enumerated() {
      let descriptor = first + UInt16(index)
      let base = table + 16 * UInt64(descriptor)
      store(buffer.0, at: base)
      store(buffer.1, at: base + 8)
      let more = index + 1 < buffers.count
      store(UInt16((more ? 1 : 0) | (buffer.2 ? 2 : 0)), at: base + 12)
      store(more ? descriptor + 1 : 0, at: base + 14)
    }
    let driverArea = state(queue).driverArea
    store(first, at: driverArea + 4 + 2 * UInt64(available[queue] % Self.queueSize))
    available[queue] &+= 1
    store(available[queue], at: driverArea + 2)
  }

  func allocate(_ length: Int) -> UInt64 {
    let address = nextBuffer
    nextBuffer += UInt64((length + 63) & ~63)
    return address
  }

  /// A transmit request: a zero header and `frame`, split after `split` bytes of the frame
  /// into a second descriptor when given.
  func transmit(_ frame: [UInt8], first: UInt16 = 0, split: Int? = nil) {
    let whole = [UInt8](repeating: 0, count: VirtioNetDevice.headerLength) + frame
    let address = allocate(whole.count)
    whole.withUnsafeBytes {
      (ram + Int(address)).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
    }
    if let split {
      let cut = VirtioNetDevice.headerLength + split
      post(
        queue: 1, first: first,
        [(address, UInt32(cut), false), (address + UInt64(cut), UInt32(whole.count - cut), false)])
    } else {
      post(queue: 1, first: first, [(address, UInt32(whole.count), false)])
    }
  }

  /// Offers one receive buffer of `length` bytes; returns its address.
  @discardableResult
  func offerReceive(length: UInt32 = 1526, first: UInt16) -> UInt64 {
    let address = allocate(Int(length))
    post(queue: 0, first: first, [(address, length, true)])
    return address
  }

  /// The used ring's entries of `queue` so far: (id, len).
  func used(_ queue: Int) -> [(UInt32, UInt32)] {
    let deviceArea = state(queue).deviceArea
    let count = load(UInt16.self, at: deviceArea + 2)
    return (0..<count).map { index in
      let element = deviceArea + 4 + 8 * UInt64(index % Self.queueSize)
      return (load(UInt32.self, at: element), load(UInt32.self, at: element + 4))
    }
  }

  // MARK: VirtioQueueService

  func nextRequest(queue: Int, maximumLength: UInt64) throws(VirtqueueFault) -> DescriptorChain? {
    try queues[queue].nextChain(memory: memory, maximumLength: maximumLength)
  }

  func complete(queue: Int, head: UInt16, written: UInt32) throws(VirtqueueFault) {
    _ = try queues[queue].complete(head: head, written: written, memory: memory)
  }

  func signalUsed(queue: Int) { interrupts[queue] += 1 }
  func deviceNeedsReset(_ fault: VirtqueueFault) { faults.append(fault) }
  func configurationChanged() {}
}

/// A switch port that keeps what it receives: `accepts` false drops everything (a driver
/// not up), `room` (when set) is how many more frames fit (a transmit ring, a receive
/// queue): none left is `.full` for a sender that can wait, else a drop.
final class RecordingPort: SwitchPortReceiver {
  var frames: [[UInt8]] = []
  var accepts = true
  var room: Int?
  var fullAnswers = 0
  func receiveFrame(_ frame: [UInt8], canWait: Bool) -> SwitchReceipt {
    guard accepts else { return .dropped }
    if let left = room {
      guard left > 0 else {
        fullAnswers += canWait ? 1 : 0
        return canWait ? .full : .dropped
      }
      room = left - 1
    }
    frames.append(frame)
    return .taken
  }
}

func ethernetFrame(to destination: UInt64, from source: UInt64, payload: Int = 46) -> [UInt8] {
  EthernetFrame.bytes(destination) + EthernetFrame.bytes(source) + [0x08, 0x00]
    + (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
}

final class VirtioNetDeviceTests: XCTestCase {
  let macA: UInt64 = 0x5254_0012_3401
  let macB: UInt64 = 0x5254_0012_3402

  func activeNIC(_ mac: UInt64, on networkSwitch: VirtualSwitch) -> (
    VirtioNetDevice, FakeNetTransport
  ) {
    let nic = VirtioNetDevice(mac: mac)
    XCTAssertNil(nic.connect(to: networkSwitch))
    let transport = FakeNetTransport()
    nic.activate(features: nic.deviceFeatures | 1 << 32, service: transport)
    return (nic, transport)
  }

  func testConfigurationHoldsTheMACAndLinkUp() {
    let nic = VirtioNetDevice(mac: 0x5254_0012_3456)
    XCTAssertEqual(nic.deviceType, 1)
    XCTAssertEqual(nic.deviceFeatures, VirtioNetDevice.featureMAC | VirtioNetDevice.featureStatus)
    XCTAssertEqual(nic.readConfiguration(offset: 0, size: 4), 0x1200_5452)
    XCTAssertEqual(nic.readConfiguration(offset: 4, size: 2), 0x5634)
    XCTAssertEqual(nic.readConfiguration(offset: 6, size: 2), 1)
    XCTAssertEqual(nic.readConfiguration(offset: 5, size: 1), 0x56)
    nic.writeConfiguration(offset: 0, size: 4, value: 0)
    XCTAssertEqual(nic.readConfiguration(offset: 0, size: 1), 0x52)
  }

  func testAFrameGoesFromOneGuestToTheOtherWithTheHeaderAndAnInterrupt() {
    let networkSwitch = VirtualSwitch()
    let (sender, tx) = activeNIC(macA, on: networkSwitch)
    let (receiver, rx) = activeNIC(macB, on: networkSwitch)
    let buffer = rx.offerReceive(first: 0)
    let frame = ethernetFrame(to: macB, from: macA, payload: 100)
    tx.transmit(frame, split: 6)
    sender.queueNotified(VirtioNetDevice.transmitQueue)

    XCTAssertEqual(tx.used(1).map { $0.0 }, [0])
    XCTAssertEqual(tx.interrupts[1], 1)
    XCTAssertEqual(rx.used(0).map { $0.1 }, [UInt32(12 + frame.count)])
    XCTAssertEqual(rx.interrupts[0], 1)
    let header = rx.bytes(at: buffer, count: 12)
    XCTAssertEqual(header, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
    XCTAssertEqual(rx.bytes(at: buffer + 12, count: frame.count), frame)
    XCTAssertEqual(sender.counters.transmittedFrames, 1)
    XCTAssertEqual(sender.counters.transmittedBytes, UInt64(frame.count))
    XCTAssertEqual(sender.counters.copiedBytes, UInt64(frame.count))
    XCTAssertEqual(receiver.counters.receivedFrames, 1)
    XCTAssertEqual(receiver.counters.copiedBytes, UInt64(12 + frame.count))
    XCTAssertEqual(networkSwitch.statistics.delivered, 1)
  }

  func testAReceiveBufferSplitOverDescriptorsTakesTheFrameInPieces() {
    let networkSwitch = VirtualSwitch()
    let (_, rx) = activeNIC(macB, on: networkSwitch)
    rx.post(
      queue: 0, first: 0, [(0x20_0000, 12, true), (0x20_1000, 40, true), (0x20_2000, 2000, true)])
    let frame = ethernetFrame(to: macB, from: 0x0200_0000_0001, payload: 200)
    XCTAssertEqual(networkSwitch.receiveFromUplink(frame), .delivered)
    XCTAssertEqual(rx.bytes(at: 0x20_1000, count: 40), Array(frame[0..<40]))
    XCTAssertEqual(rx.bytes(at: 0x20_2000, count: frame.count - 40), Array(frame[40...]))
  }

  func testWithoutAReceiveBufferTheSenderWaitsUntilOneComes() {
    let networkSwitch = VirtualSwitch()
    let (sender, tx) = activeNIC(macA, on: networkSwitch)
    let (receiver, rx) = activeNIC(macB, on: networkSwitch)
    let frame = ethernetFrame(to: macB, from: macA)
    tx.transmit(frame)
    sender.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(receiver.counters.totalDrops + sender.counters.totalDrops, 0)
    XCTAssertEqual(sender.counters.transmitDeferred, 1)
    XCTAssertEqual(tx.used(1).count, 0, "the transmit buffer is held, not used")
    XCTAssertTrue(networkSwitch.hasBlocked)
    let address = rx.offerReceive(first: 0)
    XCTAssertEqual(networkSwitch.resumeBlocked(), 1)
    XCTAssertEqual(rx.bytes(at: address + 12, count: frame.count), frame)
    XCTAssertEqual(tx.used(1).count, 1)
    XCTAssertEqual(tx.interrupts[1], 1)
    XCTAssertEqual(sender.counters.transmittedFrames, 1)
    XCTAssertFalse(networkSwitch.hasBlocked)
  }

  func testAFloodFindingNoBufferIsStillDroppedAndCounted() {
    let networkSwitch = VirtualSwitch()
    let (sender, tx) = activeNIC(macA, on: networkSwitch)
    let (receiver, _) = activeNIC(macB, on: networkSwitch)
    tx.transmit(ethernetFrame(to: EthernetFrame.broadcast, from: macA))
    sender.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(receiver.counters.dropped(.receiveNoBuffer), 1)
    XCTAssertEqual(sender.counters.transmitDeferred, 0)
    XCTAssertEqual(tx.used(1).count, 1, "nobody holds a flood: its buffer goes back")
  }

  func testAReceiveBufferTooSmallIsGivenBackEmpty() {
    let networkSwitch = VirtualSwitch()
    let (receiver, rx) = activeNIC(macB, on: networkSwitch)
    rx.offerReceive(length: 60, first: 0)
    XCTAssertEqual(
      networkSwitch.receiveFromUplink(
        ethernetFrame(to: macB, from: 0x0200_0000_0001, payload: 100)),
      .dropped(.receiverRefused))
    XCTAssertEqual(rx.used(0).map { $0.1 }, [0])
    XCTAssertEqual(receiver.counters.dropped(.receiveBufferTooSmall), 1)
  }

  func testRuntsAndOversizedFramesAreDroppedAndCounted() {
    let networkSwitch = VirtualSwitch()
    let (sender, tx) = activeNIC(macA, on: networkSwitch)
    let peer = RecordingPort()
    _ = networkSwitch.register(mac: macB, receiver: peer)
    tx.transmit(Array(ethernetFrame(to: macB, from: macA)[0..<13]), first: 0)
    tx.transmit(ethernetFrame(to: macB, from: macA, payload: 1501), first: 1)
    tx.transmit(ethernetFrame(to: macB, from: macA, payload: 1500), first: 2)
    sender.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(sender.counters.dropped(.transmitTooShort), 1)
    XCTAssertEqual(sender.counters.dropped(.transmitTooLong), 1)
    XCTAssertEqual(peer.frames.map { $0.count }, [1514])
    XCTAssertEqual(tx.used(1).count, 3)
  }

  func testASpoofedSourceNeverLeavesTheNIC() {
    let networkSwitch = VirtualSwitch()
    let (sender, tx) = activeNIC(macA, on: networkSwitch)
    let peer = RecordingPort()
    _ = networkSwitch.register(mac: macB, receiver: peer)
    tx.transmit(ethernetFrame(to: macB, from: 0x5254_0012_3499))
    tx.transmit(ethernetFrame(to: EthernetFrame.broadcast, from: macB), first: 1)
    sender.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(peer.frames.count, 0)
    XCTAssertEqual(sender.counters.dropped(.transmitSpoofed), 2)
    XCTAssertEqual(networkSwitch.statistics.dropped(.spoofedSource), 2)
  }

  func testAMalformedTransmitChainAsksForAResetAndStopsService() {
    let networkSwitch = VirtualSwitch()
    let (sender, tx) = activeNIC(macA, on: networkSwitch)
    // A descriptor far outside the 4 MiB of RAM.
    tx.post(queue: 1, first: 0, [(0x1_0000_0000, 100, false)])
    sender.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(tx.faults, [.bufferOutsideMemory(address: 0x1_0000_0000, length: 100)])
    XCTAssertEqual(sender.counters.dropped(.queueFault), 1)
    // Served no more until reset: a good frame now stays where it is.
    tx.transmit(ethernetFrame(to: macB, from: macA), first: 1)
    sender.queueNotified(VirtioNetDevice.transmitQueue)
    XCTAssertEqual(tx.used(1).count, 0)
    XCTAssertEqual(tx.faults.count, 1)
  }

  func testAReceiveFaultIsReportedAtTheNextDoorbell() {
    let networkSwitch = VirtualSwitch()
    let (receiver, rx) = activeNIC(macB, on: networkSwitch)
    // A looped receive chain: descriptor 0 → 1 → 0.
    rx.store(UInt64(0x20_0000), at: rx.state(0).descriptorTable)
    rx.store(UInt32(64), at: rx.state(0).descriptorTable + 8)
    rx.store(UInt16(3), at: rx.state(0).descriptorTable + 12)
    rx.store(UInt16(1), at: rx.state(0).descriptorTable + 14)
    rx.store(UInt64(0x20_1000), at: rx.state(0).descriptorTable + 16)
    rx.store(UInt32(64), at: rx.state(0).descriptorTable + 24)
    rx.store(UInt16(3), at: rx.state(0).descriptorTable + 28)
    rx.store(UInt16(0), at: rx.state(0).descriptorTable + 30)
    rx.store(UInt16(0), at: rx.state(0).driverArea + 4)
    rx.store(UInt16(1), at: rx.state(0).driverArea + 2)
    let frame = ethernetFrame(to: macB, from: 0x0200_0000_0001)
    XCTAssertEqual(networkSwitch.receiveFromUplink(frame), .dropped(.receiverRefused))
    XCTAssertEqual(rx.faults, [], "not from the switch's CPU")
    receiver.queueNotified(VirtioNetDevice.receiveQueue)
    XCTAssertEqual(rx.faults, [.descriptorLoop])
    XCTAssertEqual(networkSwitch.receiveFromUplink(frame), .dropped(.receiverRefused))
    XCTAssertEqual(receiver.counters.dropped(.queueFault), 1)
    XCTAssertEqual(receiver.counters.dropped(.receiveNotReady), 1)
  }

  func testBeforeDriverOKAndAfterResetNothingIsDelivered() {
    let networkSwitch = VirtualSwitch()
    let nic = VirtioNetDevice(mac: macB)
    XCTAssertNil(nic.connect(to: networkSwitch))
    let frame = ethernetFrame(to: macB, from: 0x0200_0000_0001)
    XCTAssertEqual(networkSwitch.receiveFromUplink(frame), .dropped(.receiverRefused))
    let transport = FakeNetTransport()
    nic.activate(features: nic.deviceFeatures, service: transport)
    transport.offerReceive(first: 0)
    transport.offerReceive(first: 1)
    XCTAssertEqual(networkSwitch.receiveFromUplink(frame), .delivered)
    nic.reset()
    XCTAssertEqual(networkSwitch.receiveFromUplink(frame), .dropped(.receiverRefused))
    XCTAssertEqual(transport.used(0).count, 1)
    XCTAssertEqual(nic.counters.dropped(.receiveNotReady), 2)
    nic.disconnect()
    XCTAssertEqual(networkSwitch.portCount, 0)
    XCTAssertEqual(networkSwitch.receiveFromUplink(frame), .dropped(.noRoute))
  }

  func testRoundTripsInBothDirectionsKeepEveryByte() {
    let networkSwitch = VirtualSwitch()
    let (a, aQueues) = activeNIC(macA, on: networkSwitch)
    let (b, bQueues) = activeNIC(macB, on: networkSwitch)
    var generator = SystemRandomNumberGenerator()
    for round in 0..<12 {
      let aBuffer = aQueues.offerReceive(first: UInt16(round))
      let bBuffer = bQueues.offerReceive(first: UInt16(round))
      let payload = Int.random(in: 46...1500, using: &generator)
      let request = ethernetFrame(to: macB, from: macA, payload: payload)
      aQueues.transmit(request, first: UInt16(round), split: round % 3 == 0 ? 20 : nil)
      a.queueNotified(1)
      XCTAssertEqual(bQueues.bytes(at: bBuffer + 12, count: request.count), request)
      let reply = ethernetFrame(to: macA, from: macB, payload: 1500 - payload + 46)
      bQueues.transmit(reply, first: UInt16(round))
      b.queueNotified(1)
      XCTAssertEqual(aQueues.bytes(at: aBuffer + 12, count: reply.count), reply)
    }
    XCTAssertEqual(a.counters.transmittedFrames, 12)
    XCTAssertEqual(a.counters.receivedFrames, 12)
    XCTAssertEqual(b.counters.totalDrops, 0)
    XCTAssertEqual(
      a.counters.copiedBytes, a.counters.transmittedBytes + a.counters.receivedBytes + 12 * 12)
  }
}
