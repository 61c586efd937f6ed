/// A guest's network card: the virtio-net device model (virtio 1.1 §5.1) behind a virtio
/// transport, with the MAC from the VM's profile, one port of the node's `VirtualSwitch`.
/// Features VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS, no offloads, no mergeable buffers: a
/// transmit request is a 12-byte virtio_net_hdr (§5.1.6, VERSION_1 layout) and one whole
/// frame; a receive buffer takes a header and one whole frame. Queue 0 receives, queue 1
/// transmits (§5.1.2).
///
/// Two sides, two locks (docs/guest-io.md, "Locks"):
/// - transmit runs in a vCPU's exit (the doorbell of queue 1) under the VM's device lock,
///   like every device model; each frame is copied out of guest memory and handed to the
///   switch, which may deliver it to another VM on another CPU;
/// - receive is fed by the switch from any CPU, with or without this VM's device lock, and
///   takes only `receiveLock`, which guards queue 0 and the receive counters. Activation
///   and reset (under the device lock) take it too, so no delivery writes into a queue the
///   driver is tearing down. The order is always device lock → switch → receive lock.
/// A fault found on the receive side is remembered and reported to the transport
/// (`deviceNeedsReset`) at the VM's next doorbell, under its device lock.
public final class VirtioNetDevice: VirtioDeviceModel, SwitchPortReceiver {
  /// Device feature bits (§5.1.3).
  public static let featureMTU: UInt64 = 1 << 3
  public static let featureMAC: UInt64 = 1 << 5
  public static let featureStatus: UInt64 = 1 << 16
  /// struct virtio_net_hdr with num_buffers (§5.1.6): flags, gso_type u8; hdr_len,
  /// gso_size, csum_start, csum_offset, num_buffers u16.
  public static let headerLength = 12
  /// VIRTIO_NET_S_LINK_UP (§5.1.4).
  public static let linkUp: UInt16 = 1
  public static let receiveQueue = 0
  public static let transmitQueue = 1
  /// A request spanning more is a fault (a guest's own limit would be far below); between
  /// a frame's 1,526 bytes and this it is dropped and counted.
  static let requestLimit: UInt64 = 1 << 20

  public let mac: UInt64
  public let deviceType: UInt16 = 1
  public let deviceFeatures: UInt64 = featureMAC | featureStatus
  public let queueCount = 2
  public let maximumQueueSize: UInt16 = 256
  /// mac[6], status u16 (§5.1.4).
  public let configurationSize = 8

  // Transmit side: the VM's device lock.
  private var transmitService: (any VirtioQueueService)?
  private var transmitCounters = VirtioNetCounters()
  private var port: (switch: VirtualSwitch, id: SwitchPortID)?

  // Receive side: `receiveLock`.
  let receiveLock = TicketLock()
  private var receiveService: (any VirtioQueueService)?
  private var receiveCounters = VirtioNetCounters()
  var receiveFault: VirtqueueFault?

  public init(mac: UInt64) { self.mac = mac }

  /// The NIC's counters, both sides.
  public var counters: VirtioNetCounters {
    let received = receiveLock.withLock { receiveCounters }
    return transmitCounters + received
  }

  // MARK: The switch

  /// Becomes a port of `networkSwitch`; refused (the VM is not created) when the MAC is in
  /// use on this node or the network.
  public func connect(to networkSwitch: VirtualSwitch, now: UInt64 = 0) -> SwitchRefusal? {
    switch networkSwitch.register(mac: mac, receiver: self, now: now) {
    case .success(let id):
      port = (networkSwitch, id)
      return nil
    case .failure(let refusal): return refusal
    }
  }

  /// Leaves the switch (the VM ends): when this returns, no CPU delivers to the NIC.
  public func disconnect() {
    guard let port else { return }
    port.switch.unregister(port.id)
    self.port = nil
  }

  // MARK: VirtioDeviceModel

  public func readConfiguration(offset: Int, size: Int) -> UInt32 {
    var value: UInt32 = 0
    for index in 0..<min(max(size, 0), 4) {
      value |= UInt32(configurationByte(offset + index)) << (8 * UInt32(index))
    }
    return value
  }

  private func configurationByte(_ offset: Int) -> UInt8 {
    switch offset {
    case 0..<6: UInt8(truncatingIfNeeded: mac >> UInt64(8 * (5 - offset)))
    case 6: UInt8(truncatingIfNeeded: Self.linkUp)
    default: 0
    }
  }

  /// The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR (§5.1.4.2: a modern driver
  /// does not write it); writes are ignored.
  public func writeConfiguration(offset: Int, size: Int, value: UInt32) {}

  public func activate(features: UInt64, service: any VirtioQueueService) {
    transmitService = service
    receiveLock.withLock {
      receiveService = service
      receiveFault = nil
    }
  }

  public func reset() {
    transmitService = nil
    receiveLock.withLock {
      receiveService = nil
      receiveFault = nil
    }
  }

  public func queueNotified(_ queue: Int) {
    // Counted on the transmit side: doorbells come under the VM's device lock.
    transmitCounters.notifications &+= 1
    guard let service = transmitService else { return }
    if let fault = receiveLock.withLock({ receiveFault }) {
      // A receive fault is reported from here, under the VM's device lock (see above).
      transmitService = nil
      receiveLock.withLock { receiveService = nil }
      service.deviceNeedsReset(fault)
      return
    }
    // Queue 0's doorbell says buffers were added: nothing waits for them (a frame without a
    // buffer was dropped when it came), so only transmit has work.
    guard queue == Self.transmitQueue else { return }
    transmit(service)
  }

  // MARK: Transmit

  private func transmit(_ service: any VirtioQueueService) {
    // Bounded work per doorbell: two rings' worth, though the driver keeps adding.
    var taken = 0
    defer { if taken > 0 { service.signalUsed(queue: Self.transmitQueue) } }
    while taken < 2 * Int(maximumQueueSize) {
      let chain: DescriptorChain
      do {
        guard
          let next = try service.nextRequest(
            queue: Self.transmitQueue, maximumLength: Self.requestLimit)
        else { return }
        chain = next
      } catch {
        fail(service, error)
        return
      }
      taken += 1
      let frame = frameOf(chain, memory: service.memory)
      do {
        try service.complete(queue: Self.transmitQueue, head: chain.head, written: 0)
      } catch {
        fail(service, error)
        return
      }
      guard let frame else { continue }
      forward(frame)
    }
  }

  /// The frame a transmit request carries, copied out of guest memory after its header;
  /// nil (counted) when it is too short or too long.
  private func frameOf(_ chain: DescriptorChain, memory: GuestMemoryMap) -> [UInt8]? {
    let readable = chain.readableLength
    guard readable >= UInt64(Self.headerLength + EthernetFrame.headerLength) else {
      transmitCounters.count(.transmitTooShort)
      return nil
    }
    guard readable - UInt64(Self.headerLength) <= UInt64(EthernetFrame.maximumLength) else {
      transmitCounters.count(.transmitTooLong)
      return nil
    }
    var frame = [UInt8](repeating: 0, count: Int(readable) - Self.headerLength)
    var skip = Self.headerLength
    var filled = 0
    frame.withUnsafeMutableBytes { destination in
      for buffer in chain.buffers where !buffer.writable {
        var start = 0
        var length = Int(buffer.length)
        if skip > 0 {
          let skipped = min(skip, length)
          skip -= skipped
          start = skipped
          length -= skipped
        }
        guard length > 0,
          let source = memory.pointer(
            to: buffer.guestPhysical + UInt64(start), length: UInt64(length))
        else { continue }
        (destination.baseAddress! + filled).copyMemory(from: source, byteCount: length)
        filled += length
      }
    }
    transmitCounters.copiedBytes &+= UInt64(filled)
    transmitCounters.copies &+= 1
    return frame
  }

  private func forward(_ frame: [UInt8]) {
    transmitCounters.transmittedFrames &+= 1
    transmitCounters.transmittedBytes &+= UInt64(frame.count)
    guard let port else {
      transmitCounters.count(.transmitNoRoute)
      return
    }
    switch port.switch.send(frame, from: port.id) {
    case .delivered, .flooded, .toUplink: break
    case .dropped(.spoofedSource): transmitCounters.count(.transmitSpoofed)
    case .dropped(.receiverRefused): transmitCounters.count(.transmitPeerRefused)
    case .dropped(.runt), .dropped(.noRoute), .dropped(.badSourceFromUplink):
      transmitCounters.count(.transmitNoRoute)
    }
  }

  private func fail(_ service: any VirtioQueueService, _ fault: VirtqueueFault) {
    transmitCounters.count(.queueFault)
    transmitService = nil
    receiveLock.withLock { receiveService = nil }
    service.deviceNeedsReset(fault)
  }

  // MARK: Receive (SwitchPortReceiver)

  /// Copies `frame` into the driver's next receive buffer behind a virtio-net header, gives
  /// the buffer back as used and interrupts the driver. Any CPU; takes `receiveLock` only.
  public func receiveFrame(_ frame: [UInt8]) -> Bool {
    receiveLock.withLock { receiveLocked(frame) }
  }

  private func receiveLocked(_ frame: [UInt8]) -> Bool {
    guard let service = receiveService, receiveFault == nil else {
      receiveCounters.count(.receiveNotReady)
      return false
    }
    let chain: DescriptorChain
    do {
      guard
        let next = try service.nextRequest(
          queue: Self.receiveQueue, maximumLength: Self.requestLimit)
      else {
        receiveCounters.count(.receiveNoBuffer)
        return false
      }
      chain = next
    } catch {
      receiveFault = error
      receiveCounters.count(.queueFault)
      return false
    }
    let needed = UInt64(Self.headerLength + frame.count)
    var written: UInt32 = 0
    if chain.readableLength == 0 && chain.writableLength >= needed {
      written = scatter(frame, into: chain, memory: service.memory)
    }
    do {
      try service.complete(queue: Self.receiveQueue, head: chain.head, written: written)
    } catch {
      receiveFault = error
      receiveCounters.count(.queueFault)
      return false
    }
    service.signalUsed(queue: Self.receiveQueue)
    guard written > 0 else {
      receiveCounters.count(.receiveBufferTooSmall)
      return false
    }
    receiveCounters.receivedFrames &+= 1
    receiveCounters.receivedBytes &+= UInt64(frame.count)
    receiveCounters.copiedBytes &+= UInt64(written)
    receiveCounters.copies &+= 1
    return true
  }

  /// Writes the header (no checksum or segmentation to report, num_buffers 1 as §5.1.6.3.1
  /// requires without VIRTIO_NET_F_MRG_RXBUF) and the frame across the chain's buffers.
  private func scatter(_ frame: [UInt8], into chain: DescriptorChain, memory: GuestMemoryMap)
    -> UInt32
  {
    var header = [UInt8](repeating: 0, count: Self.headerLength)
    header[10] = 1
    var written = 0
    header.withUnsafeBytes { written = copy($0, into: chain, at: 0, memory: memory) }
    frame.withUnsafeBytes { written += copy($0, into: chain, at: written, memory: memory) }
    return UInt32(written)
  }

  /// Copies `bytes` into the writable buffers of `chain` from byte `offset` of their
  /// concatenation on; returns the bytes copied.
  private func copy(
    _ bytes: UnsafeRawBufferPointer, into chain: DescriptorChain, at offset: Int,
    memory: GuestMemoryMap
  ) -> Int {
    var skip = offset
    var copied = 0
    for buffer in chain.buffers where buffer.writable && copied < bytes.count {
      var start = 0
      var room = Int(buffer.length)
      if skip > 0 {
        let skipped = min(skip, room)
        skip -= skipped
        start = skipped
        room -= skipped
      }
      let length = min(room, bytes.count - copied)
      guard length > 0,
        let target = memory.pointer(
          to: buffer.guestPhysical + UInt64(start), length: UInt64(length))
      else { continue }
      target.copyMemory(from: bytes.baseAddress! + copied, byteCount: length)
      memory.noteWrite(buffer.guestPhysical + UInt64(start), length: UInt64(length))
      copied += length
    }
    return copied
  }
}
